"""MySQL and MariaDB through aiomysql."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from harness.backends._driver import missing_driver
from harness.registry import Registry

if TYPE_CHECKING:
    from sqlalchemy.engine import URL
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


class MySQLBackend:
    kind: ClassVar[str] = "backend"
    name: ClassVar[str] = "mysql"
    #: the async driver of its URLs (placeholders for harness_url_env use it too)
    drivername: ClassVar[str] = "mysql+aiomysql"
    driver_hint: ClassVar[str] = "mysql"
    #: statements that end the current transaction by committing it (MySQL's "statements
    #: that cause an implicit commit": DDL but temporary tables, locks, account changes)
    implicit_commit: ClassVar[re.Pattern[str] | None] = re.compile(
        r"^\s*(?:(?:CREATE|DROP)\s+(?!TEMPORARY\b)|ALTER\s|RENAME\s|TRUNCATE\s"
        r"|LOCK\s+TABLES|UNLOCK\s+TABLES|GRANT\s|REVOKE\s)",
        re.IGNORECASE,
    )
    needs_server: ClassVar[bool] = True

    def check_driver(self) -> str | None:
        return missing_driver("aiomysql", "mysql")

    def embedded_url(self, directory: Path) -> URL:
        raise NotImplementedError("MySQL needs a server")

    def database_url(self, server_url: URL, database: str) -> URL:
        query = dict(server_url.query)
        # utf8mb4 everywhere: the driver's default charset cannot hold all of Unicode.
        query.setdefault("charset", "utf8mb4")
        return server_url.set(database=database, query=query)

    async def create_database(self, admin: AsyncConnection, name: str) -> None:
        from sqlalchemy import text

        await admin.execute(
            text(f"CREATE DATABASE {_quote(name)} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        )

    async def drop_database(self, admin: AsyncConnection, name: str) -> None:
        from sqlalchemy import text

        await admin.execute(text(f"DROP DATABASE IF EXISTS {_quote(name)}"))

    async def clone_database(self, admin: AsyncConnection, template: str, name: str) -> None:
        """Create *name* as a copy of the migrated *template*: tables, keys and rows.

        Raises `CloneUnsupported` (after creating *name* empty) when the template holds
        objects the copy would lose; the caller then migrates *name* itself.
        """
        from harness.backends._mysql_clone import copy_database

        await self.create_database(admin, name)
        await copy_database(admin, template, name)

    async def server_version(self, conn: AsyncConnection) -> str:
        from sqlalchemy import text

        version = str((await conn.execute(text("SELECT VERSION()"))).scalar_one())
        product = "MariaDB" if "mariadb" in version.lower() else "MySQL"
        return f"{product} {version.split('-')[0]}"

    def prepare_engine(self, engine: AsyncEngine) -> None:
        """Nothing to fix: InnoDB's transactions and savepoints behave (DDL aside)."""


def register(registry: Registry) -> None:
    registry.register(MySQLBackend())
