"""The guard: a test whose outer transaction ended underneath it is named, and the database
put back to its migrated state before the next test.

Two ways a test's outer transaction ends before the harness rolls it back, both seen without
a round trip of its own: a ``commit()`` of the outer transaction (the engine's ``commit``
event), and, on backends whose DDL commits implicitly (MySQL/MariaDB: the backend's
``implicit_commit`` pattern), a statement that does so (``before_cursor_execute``). What ended
it is kept in the DBAPI connection's ``info`` until the test's teardown reads it.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import MetaData, event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from harness.queries.recorder import issued_at

#: where a connection keeps what ended its test's transaction
_ENDED = "harness_transaction_ended"
_SQL_CHARS = 120


def _short(sql: str) -> str:
    text = " ".join(sql.split())
    return text if len(text) <= _SQL_CHARS else text[:_SQL_CHARS] + " ..."


def watch(engine: AsyncEngine, implicit_commit: re.Pattern[str] | None) -> None:
    """Attach the guard's listeners to *engine* (once, at the engine's creation)."""

    def on_commit(conn: Connection) -> None:
        # Only the outer transaction's commit fires this: a session's commit inside the
        # test is a RELEASE SAVEPOINT.
        conn.info.setdefault(_ENDED, f"a commit() of the outer transaction at {issued_at()}")

    event.listen(engine.sync_engine, "commit", on_commit)
    if implicit_commit is None:
        return

    def before_cursor_execute(
        conn: Connection, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        if implicit_commit.match(statement):
            conn.info.setdefault(
                _ENDED,
                f"{_short(statement)!r} at {issued_at()}, which commits implicitly on "
                f"{engine.dialect.name}",
            )

    event.listen(engine.sync_engine, "before_cursor_execute", before_cursor_execute)


def arm(conn: AsyncConnection) -> None:
    """Forget what ended an earlier user's transaction on this pooled connection."""
    sync = conn.sync_connection
    if sync is not None:
        sync.info.pop(_ENDED, None)


def ended(conn: AsyncConnection) -> str | None:
    """What ended the test's outer transaction, or None if it survived."""
    sync = conn.sync_connection
    return None if sync is None else sync.info.pop(_ENDED, None)


def leak_message(test: str, what: str, backend: str) -> str:
    return (
        f"{test} ended its outer transaction on {backend} by {what}: what it wrote "
        "was committed for real. The database was put back to its migrated state. Commit "
        "through db_session or the app's sessions (a savepoint) instead of db_connection, "
        "and move DDL into migrations or a session-scoped fixture."
    )


def _drop_everything(connection: Connection) -> None:
    reflected = MetaData()
    reflected.reflect(connection)
    reflected.drop_all(connection)


async def rebuild(engine: AsyncEngine, migrate: Callable[[], Awaitable[object]]) -> None:
    """Drop every table, then migrate again: the database as the run first made it."""
    async with engine.begin() as conn:
        await conn.run_sync(_drop_everything)
    await migrate()
