"""What the redirection saw during the run: where the app made the sessions and connections
that were redirected, and the long-lived sessions its startup made (plain Python: the run
holds one from its start, before anything imports SQLAlchemy)."""

from __future__ import annotations

import collections
import sys
import weakref
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

#: frames in these packages are not where the app made its session
_LIBRARIES = ("sqlalchemy", "sqlmodel", "harness", "fastapi", "starlette", "anyio", "contextlib")


def made_at() -> str:
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
        #: harness_session_dependency values none of the app's routes depend on
        self.checked_dependencies = False
        self.unused_dependencies: list[str] = []

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
        unused = [
            f"harness: harness_session_dependency {spec!r} is a dependency of none of the "
            "app's routes: overriding it changes nothing, and the routes reach the database "
            "another way. Name the dependency they use (or drop harness_wiring = override)"
            for spec in self.unused_dependencies
        ]
        return made + kept + unused

    def adopt(self, connection: AsyncConnection) -> None:
        """Point every long-lived session at *connection*, joined with a savepoint."""
        for session in list(self.long_lived):
            session.sync_session.bind = connection.sync_connection
            session.sync_session.join_transaction_mode = "create_savepoint"

    async def release(self) -> None:
        """End what the long-lived sessions did in this test (before its rollback)."""
        for session in list(self.long_lived):
            await session.close()
