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

import collections
import contextlib
import sys
import weakref
from collections.abc import Iterator
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from harness.wiring.connections import JoinedConnection

#: frames in these packages are not where the app made its session
_LIBRARIES = ("sqlalchemy", "sqlmodel", "harness", "fastapi", "starlette", "anyio", "contextlib")


def _made_at() -> str:
    """``module:line`` of the first frame outside the libraries: where the app made it."""
    frame = sys._getframe(2)
    while frame is not None:
        module = str(frame.f_globals.get("__name__", "?"))
        if module.partition(".")[0] not in _LIBRARIES:
            return f"{module}:{frame.f_lineno}"
        frame = frame.f_back  # type: ignore[assignment]  # None ends the walk
    return "?"


class Redirections:
    """What was redirected during the run, by where it was made: for the terminal summary."""

    def __init__(self) -> None:
        self.sessions: collections.Counter[str] = collections.Counter()
        self.connections: collections.Counter[str] = collections.Counter()
        #: sessions the app made outside any test (in its lifespan's startup) and keeps
        #: (a global object's session): each test re-points them at its own connection
        self.long_lived: weakref.WeakSet[AsyncSession] = weakref.WeakSet()
        self.long_lived_at: collections.Counter[str] = collections.Counter()

    def lines(self) -> list[str]:
        made = [
            f"harness: sessions redirected to the test's transaction: {count} made at {where}"
            for where, count in self.sessions.most_common()
        ]
        made += [
            f"harness: engine connections redirected to the test's transaction: {count} "
            f"opened at {where}"
            for where, count in self.connections.most_common()
        ]
        kept = [
            f"harness: sessions made at startup, re-pointed at each test's transaction: "
            f"{count} made at {where}"
            for where, count in self.long_lived_at.most_common()
        ]
        return made + kept

    def adopt(self, connection: AsyncConnection) -> None:
        """Point every long-lived session at *connection*, joined with a savepoint."""
        for session in list(self.long_lived):
            session.sync_session.bind = connection.sync_connection
            session.sync_session.join_transaction_mode = "create_savepoint"

    async def release(self) -> None:
        """End what the long-lived sessions did in this test (before its rollback)."""
        for session in list(self.long_lived):
            await session.close()


@contextlib.contextmanager
def startup_redirected(engine: AsyncEngine, seen: Redirections) -> Iterator[None]:
    """While active (the app's lifespan startup, outside any test), the app's engines are
    *engine*, the harness's: its sessions and connections reach the test database, and
    what they commit stays, as a server's startup would leave it. Sessions made here are
    remembered as long-lived, to be re-pointed at each test's connection."""
    own = engine.sync_engine

    def __init__(self: AsyncSession, bind: Any = None, **kw: Any) -> None:
        if isinstance(bind, AsyncEngine) and bind.sync_engine is not own:
            seen.long_lived_at[_made_at()] += 1
            _ORIGINAL_INIT(self, engine, **kw)
            seen.long_lived.add(self)
        else:
            _ORIGINAL_INIT(self, bind, **kw)

    def connect(self: AsyncEngine) -> Any:
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
    """While active, an AsyncSession made on any engine is bound to *connection* instead."""

    def __init__(self: AsyncSession, bind: Any = None, **kw: Any) -> None:
        if isinstance(bind, AsyncEngine):
            bind = connection
            # Whatever mode the app chose for engine binds, on a connection that is already
            # in the test's transaction only a savepoint keeps that transaction intact.
            kw["join_transaction_mode"] = "create_savepoint"
            if seen is not None:
                seen.sessions[_made_at()] += 1
        _ORIGINAL_INIT(self, bind, **kw)

    own = connection.sync_engine

    def connect(self: AsyncEngine) -> Any:
        if self.sync_engine is own:  # the harness's own engine (or the test's code on it)
            return _ORIGINAL_CONNECT(self)
        if seen is not None:
            seen.connections[_made_at()] += 1
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
