"""Transactional tests: ``@pytest.mark.harness_isolation("commit")``.

Some tests need real commits: two connections that see each other's writes, a lock one of
them waits on, a background task with a session of its own, DDL. Such a test runs on the
migrated database with no outer transaction; what it commits stays until it ends. Then only
what it changed is put back: the tables its statements wrote to (seen as they are sent) are
emptied and their sequences / auto-increment counters restarted. Anything this cannot undo
exactly (DDL, a write to a table the migrations filled with rows) puts the whole database
back to its migrated state instead, as the guard does after a leak.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from sqlalchemy import MetaData, bindparam, event, func, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

_NAME = r"[`\"\[]?([\w$]+)[`\"\]]?"
#: a statement that writes rows, and the table it writes to (schema prefix allowed)
_WRITE = re.compile(
    r"^\s*(?:INSERT(?:\s+IGNORE)?\s+INTO|REPLACE\s+INTO|UPDATE(?:\s+IGNORE)?|DELETE\s+FROM"
    r"|TRUNCATE(?:\s+TABLE)?|COPY)\s+(?:" + _NAME + r"\.)?" + _NAME,
    re.IGNORECASE,
)
#: a statement that changes the schema: only migrating again undoes it
_DDL = re.compile(r"^\s*(?:CREATE|DROP|ALTER|RENAME|COMMENT\s+ON)\b", re.IGNORECASE)
#: a statement that may write, to tables this module cannot name (``WITH ... INSERT``)
_OPAQUE = re.compile(r"^\s*WITH\b.*\b(?:INSERT|UPDATE|DELETE)\b", re.IGNORECASE | re.DOTALL)
#: the harness's own bookkeeping table, and Alembic's: never emptied
_KEPT = frozenset({"alembic_version"})


@dataclasses.dataclass
class Touched:
    """What a transactional test's statements changed."""

    tables: set[str] = dataclasses.field(default_factory=set)
    #: why the whole database must be rebuilt (DDL, an opaque write), if it must
    rebuild: str | None = None

    def see(self, statement: str) -> None:
        match = _WRITE.match(statement)
        if match is not None:
            self.tables.add(match.group(2).lower())
        elif _DDL.match(statement) or _OPAQUE.match(statement):
            self.rebuild = self.rebuild or " ".join(statement.split())[:80]


@contextlib.contextmanager
def tracking(engine: AsyncEngine) -> Iterator[Touched]:
    """While active, note every table a statement on *engine* writes to (any connection)."""
    touched = Touched()

    def before_cursor_execute(
        conn: Connection, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        touched.see(statement)

    target = engine.sync_engine
    event.listen(target, "before_cursor_execute", before_cursor_execute)
    try:
        yield touched
    finally:
        event.remove(target, "before_cursor_execute", before_cursor_execute)


@dataclasses.dataclass
class Baseline:
    """The migrated schema, read once per backend: tables in dependency order and which of
    them the migrations left rows in."""

    #: table name (lower case) -> real name, parents before children
    order: dict[str, str]
    #: lower-case name -> names of the tables whose foreign keys point at it
    dependents: dict[str, set[str]]
    #: tables that hold rows in the migrated state: emptying them would lose those rows
    seeded: set[str]
    has_sqlite_sequence: bool


def _read_baseline(connection: Connection) -> Baseline:
    metadata = MetaData()
    metadata.reflect(connection)
    order = {table.name.lower(): table.name for table in metadata.sorted_tables}
    dependents: dict[str, set[str]] = {name: set() for name in order}
    seeded = set()
    for table in metadata.sorted_tables:
        for fk in table.foreign_keys:
            dependents.setdefault(fk.column.table.name.lower(), set()).add(table.name.lower())
        if table.name.lower() in _KEPT:
            continue
        count = connection.execute(select(func.count()).select_from(table)).scalar_one()
        if count:
            seeded.add(table.name.lower())
    has_sequence = connection.dialect.name == "sqlite" and bool(
        connection.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'"
        ).first()
    )
    return Baseline(order, dependents, seeded, has_sequence)


async def read_baseline(engine: AsyncEngine) -> Baseline:
    async with engine.connect() as conn:
        return await conn.run_sync(_read_baseline)


def _to_clear(touched: Touched, baseline: Baseline) -> tuple[list[str], str | None]:
    """The tables to empty, children first, or why the database must be rebuilt instead."""
    if touched.rebuild is not None:
        return [], touched.rebuild
    clear: set[str] = set()
    todo = [name for name in touched.tables if name in baseline.order and name not in _KEPT]
    while todo:  # with every table whose rows may point at a cleared one
        name = todo.pop()
        if name in clear:
            continue
        if name in baseline.seeded:
            return [], f"{baseline.order[name]} holds rows the migrations put there"
        clear.add(name)
        todo.extend(baseline.dependents.get(name, ()))
    ordered = [real for name, real in baseline.order.items() if name in clear]
    return ordered[::-1], None


def _clear(connection: Connection, tables: list[str], baseline: Baseline) -> None:
    dialect = connection.dialect
    quoted = [dialect.identifier_preparer.quote(name) for name in tables]
    if dialect.name == "postgresql":
        connection.exec_driver_sql(f"TRUNCATE TABLE {', '.join(quoted)} RESTART IDENTITY")
    elif dialect.name in ("mysql", "mariadb"):
        # TRUNCATE restarts AUTO_INCREMENT; the checks are off only on this connection.
        connection.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 0")
        try:
            for name in quoted:
                connection.exec_driver_sql(f"TRUNCATE TABLE {name}")
        finally:
            connection.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 1")
    else:
        for name in quoted:
            connection.exec_driver_sql(f"DELETE FROM {name}")
        if baseline.has_sqlite_sequence:
            statement = text("DELETE FROM sqlite_sequence WHERE name IN :names")
            connection.execute(
                statement.bindparams(bindparam("names", expanding=True)), {"names": tables}
            )


async def reset(
    engine: AsyncEngine,
    touched: Touched,
    baseline: Baseline,
    rebuild: Callable[[], Awaitable[None]],
) -> str:
    """Put back what a transactional test changed; return what was done, for the record."""
    tables, why = _to_clear(touched, baseline)
    if why is not None:
        await rebuild()
        return f"rebuilt ({why})"
    if tables:
        async with engine.begin() as conn:
            await conn.run_sync(_clear, tables, baseline)
    return f"emptied {', '.join(tables) or 'nothing'}"
