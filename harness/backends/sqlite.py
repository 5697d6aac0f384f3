"""SQLite through aiosqlite: a temp file per session, and the savepoint fix the driver needs."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from harness.backends._driver import missing_driver
from harness.registry import Registry

if TYPE_CHECKING:
    from sqlalchemy.engine import URL
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


class SQLiteBackend:
    kind: ClassVar[str] = "backend"
    name: ClassVar[str] = "sqlite"
    #: the async driver of its URLs (placeholders for harness_url_env use it too)
    drivername: ClassVar[str] = "sqlite+aiosqlite"
    driver_hint: ClassVar[str] = "sqlite"
    needs_server: ClassVar[bool] = False

    def check_driver(self) -> str | None:
        return missing_driver("aiosqlite", "sqlite")

    def embedded_url(self, directory: Path) -> URL:
        from sqlalchemy.engine import URL

        # A file, not :memory:: every pooled connection must see the same database.
        return URL.create("sqlite+aiosqlite", database=str(directory / "harness.sqlite3"))

    def database_url(self, server_url: URL, database: str) -> URL:
        return server_url

    async def create_database(self, admin: AsyncConnection, name: str) -> None:
        """Nothing to do: the file is created on first connect."""

    async def drop_database(self, admin: AsyncConnection, name: str) -> None:
        """Nothing to do: the file goes with the session's temp dir."""

    def clone_embedded(self, template: URL, directory: Path) -> URL:
        """Copy the migrated *template* file into *directory*; return the copy's URL.

        The template's engines are disposed by then, so the file alone is the database.
        """
        import shutil

        target = self.embedded_url(directory)
        assert template.database
        assert target.database
        shutil.copyfile(template.database, target.database)
        return target

    async def server_version(self, conn: AsyncConnection) -> str:
        return f"SQLite {sqlite3.sqlite_version}"

    def prepare_engine(self, engine: AsyncEngine) -> None:
        from sqlalchemy import event

        # sqlite3 (and so aiosqlite) issues BEGIN lazily and SAVEPOINT outside it unless
        # it is told to stay out of transaction handling: SQLAlchemy's documented fix.
        sync_engine = engine.sync_engine

        @event.listens_for(sync_engine, "connect")
        def _no_driver_transactions(dbapi_connection: Any, connection_record: Any) -> None:
            dbapi_connection.isolation_level = None

        @event.listens_for(sync_engine, "begin")
        def _emit_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN")

        # Foreign keys are off by default in SQLite; every other backend enforces them.
        @event.listens_for(sync_engine, "connect")
        def _foreign_keys(dbapi_connection: Any, connection_record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()


def register(registry: Registry) -> None:
    registry.register(SQLiteBackend())
