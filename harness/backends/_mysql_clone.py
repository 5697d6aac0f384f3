"""Copying a migrated MySQL/MariaDB database into a new one, for each xdist worker.

MySQL has no ``CREATE DATABASE ... TEMPLATE``, and ``CREATE TABLE ... LIKE`` drops the
foreign keys. What keeps everything: replay each table's ``SHOW CREATE TABLE`` in the new
database (foreign key checks off, so the order does not matter), then copy the rows the
migrations wrote (``alembic_version``, seed data) with ``INSERT ... SELECT``. A template with
views, triggers, routines or events is not copied: the caller migrates instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.backends.base import CloneUnsupported

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


async def _raw(conn: AsyncConnection, sql: str) -> None:
    # DDL from SHOW CREATE TABLE may hold ':' or '%' in comments and defaults: no parameters.
    await conn.exec_driver_sql(sql, execution_options={"no_parameters": True})


async def _tables(admin: AsyncConnection, template: str) -> list[str]:
    """The template's base tables; CloneUnsupported if it has other objects too."""
    from sqlalchemy import text

    others = (
        await admin.execute(
            text(
                "SELECT (SELECT COUNT(*) FROM information_schema.VIEWS WHERE TABLE_SCHEMA = :t)"
                " + (SELECT COUNT(*) FROM information_schema.TRIGGERS"
                " WHERE TRIGGER_SCHEMA = :t)"
                " + (SELECT COUNT(*) FROM information_schema.ROUTINES"
                " WHERE ROUTINE_SCHEMA = :t)"
                " + (SELECT COUNT(*) FROM information_schema.EVENTS WHERE EVENT_SCHEMA = :t)"
            ),
            {"t": template},
        )
    ).scalar_one()
    if others:
        raise CloneUnsupported(f"{template} has views, triggers, routines or events")
    rows = await admin.execute(
        text(
            "SELECT TABLE_NAME FROM information_schema.TABLES "
            "WHERE TABLE_SCHEMA = :t AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME"
        ),
        {"t": template},
    )
    return [str(name) for name in rows.scalars()]


async def _filled(admin: AsyncConnection, template: str, tables: list[str]) -> list[str]:
    """The tables of *template* that hold rows, found in one round trip."""
    if not tables:
        return []
    probes = " UNION ALL ".join(
        f"SELECT {i} AS n FROM DUAL WHERE EXISTS (SELECT 1 FROM {_quote(template)}.{_quote(t)})"
        for i, t in enumerate(tables)
    )
    result = await admin.exec_driver_sql(probes, execution_options={"no_parameters": True})
    return [tables[int(n)] for n in result.scalars()]


async def _columns(admin: AsyncConnection, template: str, table: str) -> list[str]:
    """The columns of *table* a row can be inserted into (generated columns left out)."""
    from sqlalchemy import text

    rows = await admin.execute(
        text(
            "SELECT COLUMN_NAME FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = :s AND TABLE_NAME = :t "
            "AND EXTRA NOT LIKE '%GENERATED%' AND EXTRA NOT LIKE '%PERSISTENT%' "
            "ORDER BY ORDINAL_POSITION"
        ),
        {"s": template, "t": table},
    )
    return [str(name) for name in rows.scalars()]


async def copy_database(admin: AsyncConnection, template: str, name: str) -> None:
    """Fill the new, empty database *name* with *template*'s tables and rows.

    *admin* is an AUTOCOMMIT connection; its default database and foreign key checks are
    changed for the rest of its life (it is a throwaway connection).
    """
    tables = await _tables(admin, template)
    definitions = []
    for table in tables:
        result = await admin.exec_driver_sql(
            f"SHOW CREATE TABLE {_quote(template)}.{_quote(table)}",
            execution_options={"no_parameters": True},
        )
        definitions.append(str(tuple(result.one())[1]))
    await _raw(admin, f"USE {_quote(name)}")
    await _raw(admin, "SET SESSION FOREIGN_KEY_CHECKS = 0")
    for definition in definitions:
        await _raw(admin, definition)
    for table in await _filled(admin, template, tables):
        columns = ", ".join(_quote(c) for c in await _columns(admin, template, table))
        await _raw(
            admin,
            f"INSERT INTO {_quote(name)}.{_quote(table)} ({columns}) "
            f"SELECT {columns} FROM {_quote(template)}.{_quote(table)}",
        )
    await _raw(admin, "SET SESSION FOREIGN_KEY_CHECKS = 1")
