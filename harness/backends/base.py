"""The interface every database backend implements: the per-dialect quirks live behind it."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Protocol, runtime_checkable

if TYPE_CHECKING:
    from pathlib import Path

    from sqlalchemy.engine import URL
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


class CloneUnsupported(Exception):
    """A template cannot be copied faithfully; the new database is migrated instead."""


@runtime_checkable
class Backend(Protocol):
    """A database product as the harness sees it.

    A backend knows its dialect's quirks (how to create and drop a database, what an engine
    needs before it can be trusted with savepoints) but not how a server is obtained: that
    is a `Launcher`'s job.
    """

    kind: ClassVar[str]  # always "backend": lets one `Registry.register` call take both kinds
    #: the id used in ``--harness-backends`` and in test ids, e.g. ``"postgresql"``
    name: ClassVar[str]
    #: the pip extra (or package) that provides its async driver, for error messages
    driver_hint: ClassVar[str]
    #: False for embedded databases (SQLite): no launcher is involved
    needs_server: ClassVar[bool]

    def check_driver(self) -> str | None:
        """Return why the async driver cannot be imported (with what to install), or None."""

    def embedded_url(self, directory: Path) -> URL:
        """Return the URL of a fresh database file in *directory* (embedded backends only)."""

    def database_url(self, server_url: URL, database: str) -> URL:
        """Return *server_url* pointed at *database*."""

    async def create_database(self, admin: AsyncConnection, name: str) -> None:
        """Create an empty database *name*; *admin* is an AUTOCOMMIT connection."""

    async def drop_database(self, admin: AsyncConnection, name: str) -> None:
        """Drop database *name* if it exists; *admin* is an AUTOCOMMIT connection."""

    async def server_version(self, conn: AsyncConnection) -> str:
        """Return a one-line description of the server, e.g. ``"PostgreSQL 15.8"``."""

    def prepare_engine(self, engine: AsyncEngine) -> None:
        """Fix up a new engine so that transactions and savepoints behave (e.g. SQLite)."""

    # Optional, found with getattr (xdist workers clone the controller's migrated template;
    # without them each worker migrates its own database):
    #
    # async def clone_database(self, admin: AsyncConnection, template: str, name: str) -> None
    #     server backends: create *name* as a copy of *template* (may raise CloneUnsupported
    #     once *name* exists, empty)
    # def clone_embedded(self, template: URL, directory: Path) -> URL
    #     embedded backends: copy the *template* database into *directory*, return its URL
