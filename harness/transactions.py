"""Per-test isolation: an outer transaction the test never commits, savepoints inside it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession


@contextlib.asynccontextmanager
async def outer_transaction(conn: AsyncConnection) -> AsyncIterator[AsyncConnection]:
    """*conn* inside a transaction that is always rolled back at the end."""
    if conn.invalidated:
        # A previous user broke the connection (server gone, driver error): start afresh.
        await conn.rollback()
    transaction = await conn.begin()
    try:
        yield conn
    finally:
        if transaction.is_active:
            await transaction.rollback()


def joined_session(conn: AsyncConnection, **kwargs: Any) -> AsyncSession:
    """An AsyncSession on *conn* whose commit() and rollback() only touch a savepoint.

    SQLAlchemy's documented recipe for test suites: the session joins the outer transaction
    and turns its own transactions into SAVEPOINTs, so code under test may commit and roll
    back freely while the test's outer rollback still undoes everything.
    """
    kwargs.setdefault("expire_on_commit", False)
    return AsyncSession(bind=conn, join_transaction_mode="create_savepoint", **kwargs)


@contextlib.asynccontextmanager
async def isolated_session(engine: AsyncEngine, **kwargs: Any) -> AsyncIterator[AsyncSession]:
    """An outer transaction and a joined session; everything is rolled back at exit."""
    async with engine.connect() as conn, outer_transaction(conn):
        session = joined_session(conn, **kwargs)
        try:
            yield session
        finally:
            await session.close()
