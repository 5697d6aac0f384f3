"""Redirection: every AsyncSession the app makes on an engine joins the test's connection.

The app's own code runs unchanged (its dependencies, its session class and options, its
sessionmakers, a session it builds with ``AsyncSession(engine)``, SQLModel's session class);
only where its connections go changes. While a test runs, ``AsyncSession.__init__`` (which
every subclass and every ``async_sessionmaker`` goes through) swaps a bind that is an engine
for the test's connection, with ``join_transaction_mode="create_savepoint"``: the app's
``commit()`` and ``rollback()`` then reach a SAVEPOINT inside the test's outer transaction,
which the harness rolls back afterwards, as SQLAlchemy's recipe for test suites does.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from harness.wiring.connections import JoinedConnection
from harness.wiring.seen import Redirections, made_at


@contextlib.contextmanager
def startup_redirected(engine: AsyncEngine, seen: Redirections) -> Iterator[None]:
    """While active (the app's lifespan startup, outside any test), the app's engines are
    *engine*, the harness's: its sessions and connections reach the test database, and
    what they commit stays, as a server's startup would leave it. Sessions made here are
    remembered as long-lived, to be re-pointed at each test's transaction."""
    with to_engine(engine, seen, long_lived=True):
        yield


@contextlib.contextmanager
def to_engine(
    engine: AsyncEngine, seen: Redirections, *, long_lived: bool = False
) -> Iterator[None]:
    """While active, sessions and connections the app makes on an engine of its own are
    made on *engine* (the harness's) instead: real connections, real commits. A
    transactional test (``harness_isolation("commit")``) runs so."""
    own = engine.sync_engine

    def __init__(self: AsyncSession, bind: Any = None, **kw: Any) -> None:
        if isinstance(bind, AsyncEngine) and bind.sync_engine is not own:
            if long_lived:
                seen.long_lived_at[made_at()] += 1
            else:
                seen.sessions[made_at()] += 1
            _ORIGINAL_INIT(self, engine, **kw)
            if long_lived:
                seen.long_lived.add(self)
        else:
            _ORIGINAL_INIT(self, bind, **kw)

    def connect(self: AsyncEngine) -> Any:
        if self.sync_engine is not own and not long_lived:
            seen.connections[made_at()] += 1
        return _ORIGINAL_CONNECT(self if self.sync_engine is own else engine)

    with _patched_init(__init__), _patched_connect(connect):
        yield


@contextlib.contextmanager
def _patched_init(init: Any) -> Iterator[None]:
    saved = AsyncSession.__dict__["__init__"]
    AsyncSession.__init__ = init  # type: ignore[method-assign]  # restored below
    try:
        yield
    finally:
        AsyncSession.__init__ = saved  # type: ignore[method-assign]


_ORIGINAL_INIT = AsyncSession.__init__
_ORIGINAL_CONNECT = AsyncEngine.connect


@contextlib.contextmanager
def redirected(connection: AsyncConnection, seen: Redirections | None = None) -> Iterator[None]:
    """While active, an AsyncSession made on any engine is bound to *connection* instead.

    The harness's own engine (``db_engine``) is left alone, for sessions and connections
    alike: a test that opens one there asks for a connection of its own on purpose.
    """
    own = connection.sync_engine

    def __init__(self: AsyncSession, bind: Any = None, **kw: Any) -> None:
        if isinstance(bind, AsyncEngine) and bind.sync_engine is not own:
            bind = connection
            # Whatever mode the app chose for engine binds, on a connection that is already
            # in the test's transaction only a savepoint keeps that transaction intact.
            kw["join_transaction_mode"] = "create_savepoint"
            if seen is not None:
                seen.sessions[made_at()] += 1
        _ORIGINAL_INIT(self, bind, **kw)

    def connect(self: AsyncEngine) -> Any:
        if self.sync_engine is own:  # the harness's own engine (or the test's code on it)
            return _ORIGINAL_CONNECT(self)
        if seen is not None:
            seen.connections[made_at()] += 1
        return JoinedConnection(connection)

    if seen is not None:
        seen.adopt(connection)
    with _patched_init(__init__), _patched_connect(connect):
        yield


@contextlib.contextmanager
def _patched_connect(connect: Any) -> Iterator[None]:
    saved = AsyncEngine.__dict__["connect"]
    AsyncEngine.connect = connect  # type: ignore[method-assign]  # restored below
    try:
        yield
    finally:
        AsyncEngine.connect = saved  # type: ignore[method-assign]
