"""PostgreSQL through asyncpg."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from harness.backends._driver import missing_driver
from harness.registry import Registry

if TYPE_CHECKING:
    from sqlalchemy.engine import URL
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class PostgreSQLBackend:
    kind: ClassVar[str] = "backend"
    name: ClassVar[str] = "postgresql"
    #: the async driver of its URLs (placeholders for harness_url_env use it too)
    drivername: ClassVar[str] = "postgresql+asyncpg"
    driver_hint: ClassVar[str] = "postgresql"
    needs_server: ClassVar[bool] = True

    def check_driver(self) -> str | None:
        return missing_driver("asyncpg", "postgresql")

    def embedded_url(self, directory: Path) -> URL:
        raise NotImplementedError("PostgreSQL needs a server")

    def database_url(self, server_url: URL, database: str) -> URL:
        return server_url.set(database=database)

    async def create_database(self, admin: AsyncConnection, name: str) -> None:
        from sqlalchemy import text

        # template0 + UTF8: the same encoding whatever the server's default locale is.
        await admin.execute(
            text(f"CREATE DATABASE {_quote(name)} TEMPLATE template0 ENCODING 'UTF8'")
        )

    async def drop_database(self, admin: AsyncConnection, name: str) -> None:
        from sqlalchemy import text

        await admin.execute(text(f"DROP DATABASE IF EXISTS {_quote(name)} WITH (FORCE)"))

    async def clone_database(self, admin: AsyncConnection, template: str, name: str) -> None:
        """Create *name* as a copy of the migrated *template* (no one may be connected to it)."""
        from sqlalchemy import text

        await admin.execute(text(f"CREATE DATABASE {_quote(name)} TEMPLATE {_quote(template)}"))

    async def rename_database(self, admin: AsyncConnection, old: str, new: str) -> None:
        """Rename *old* (no one may be connected to it) to *new*: a spare copy taken."""
        from sqlalchemy import text

        await admin.execute(text(f"ALTER DATABASE {_quote(old)} RENAME TO {_quote(new)}"))

    async def server_version(self, conn: AsyncConnection) -> str:
        from sqlalchemy import text

        version = str((await conn.execute(text("SHOW server_version"))).scalar_one())
        # "15.8 (Debian 15.8-0+deb12u1)": the packager's suffix is noise in a report line.
        return f"PostgreSQL {version.split()[0]}"

    def prepare_engine(self, engine: AsyncEngine) -> None:
        """Nothing to fix: asyncpg's transactions and savepoints behave."""


def register(registry: Registry) -> None:
    registry.register(PostgreSQLBackend())
