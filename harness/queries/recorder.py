"""Records the statements the code under test sends, leaving out the isolation machinery's own.

Everything a test's code sends (through the test's session, the app's redirected sessions and
engines, sync or async) goes through the test's one connection, so one listener on it sees it
all. Left out: transaction control (BEGIN, COMMIT, ROLLBACK, SAVEPOINT, RELEASE, ROLLBACK TO:
what the harness's savepoints add, and what differs between backends) and per-connection
setup (PRAGMA, SET), so the same ORM work gives the same count on every backend.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import sys
from collections.abc import Iterator
from types import FrameType
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

_MACHINERY = re.compile(
    r"^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|START\s+TRANSACTION|PRAGMA|SET)\b",
    re.IGNORECASE,
)
#: frames in these packages are not where the app issued a statement
_LIBRARIES: tuple[str, ...] = (
    *("sqlalchemy", "sqlmodel", "harness", "asyncio", "greenlet", "contextlib", "anyio"),
    *("starlette", "fastapi", "httpx", "_pytest", "pluggy", "pytest_asyncio"),
)


def is_machinery(statement: str) -> bool:
    """Whether *statement* is transaction control or connection setup, not the app's work."""
    return _MACHINERY.match(statement) is not None


@dataclasses.dataclass(frozen=True)
class Statement:
    """One statement the code under test sent."""

    sql: str
    parameters: Any
    #: ``module:line`` of the app's frame that issued it (not SQLAlchemy's)
    where: str
    #: the request (or block) it was sent in, for the N+1 report
    segment: int


def _frames() -> Iterator[FrameType]:
    """The stack, continued across greenlets: async SQLAlchemy runs the driver call in a child
    greenlet whose frames end where it was spawned; the awaiting code is in its parent."""
    frame: FrameType | None = sys._getframe(2)
    glet: Any = None
    greenlet = sys.modules.get("greenlet")  # SQLAlchemy's asyncio imported it, if in use
    if greenlet is not None:
        glet = greenlet.getcurrent()
    while True:
        while frame is not None:
            yield frame
            frame = frame.f_back
        glet = getattr(glet, "parent", None)
        if glet is None:
            return
        frame = getattr(glet, "gr_frame", None)


def issued_at() -> str:
    """``module:line`` of the innermost frame outside the libraries."""
    for frame in _frames():
        module = str(frame.f_globals.get("__name__", "?"))
        if module.partition(".")[0] not in _LIBRARIES:
            return f"{module}:{frame.f_lineno}"
    return "?"


class QueryRecorder:
    """The statements sent on one test connection while recording; see `recording`."""

    def __init__(self) -> None:
        self.statements: list[Statement] = []
        self.segment = 0
        #: counting only while the test itself runs (pytest's call phase), not its fixtures
        self.active = 0

    def new_segment(self) -> None:
        """Start a new request or block: the N+1 report looks within one at a time."""
        self.segment += 1

    def _on_execute(self, statement: str, parameters: Any) -> None:
        if self.active and not is_machinery(statement):
            self.statements.append(Statement(statement, parameters, issued_at(), self.segment))

    @contextlib.contextmanager
    def recording(self, connection: AsyncConnection) -> Iterator[QueryRecorder]:
        """Record what is sent on *connection* while the block runs.

        The engine's listener must be there before the connection is made (a connection
        made on an engine without listeners never calls them): see `listen_on`.
        """
        target = connection.sync_connection
        assert target is not None
        target.info[_RECORDER] = self
        try:
            yield self
        finally:
            target.info.pop(_RECORDER, None)


#: where a connection being recorded keeps its recorder (``Connection.info``)
_RECORDER = "harness_query_recorder"


def _dispatch(
    conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
) -> None:
    recorder = conn.info.get(_RECORDER)
    if recorder is not None:
        recorder._on_execute(statement, parameters)


def listen_on(engine: AsyncEngine) -> None:
    """Attach the recording listener to *engine*, once: later connections then report to the
    recorder their test sets, and tests that record nothing pay one dict lookup a statement.
    Attached per engine and left there: adding and removing a listener per test costs more
    than the test's own statements."""
    target = engine.sync_engine
    if not event.contains(target, "before_cursor_execute", _dispatch):
        event.listen(target, "before_cursor_execute", _dispatch)
