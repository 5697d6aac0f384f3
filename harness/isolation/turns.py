"""Turns: tasks that run at once take turns for their transactions on the test's connection.

In production two tasks that run at once (``asyncio.gather`` over queries that each open a
session, two requests sent together, a task the app starts) each get a connection of their
own from the pool. In a test, every session the app makes is redirected to the test's one
connection, where each transaction is a SAVEPOINT: two of them at once nest, and when the
outer one ends first (``RELEASE`` or ``ROLLBACK TO``) it takes the inner one with it, and the
other task fails with "savepoint does not exist" from deep inside the driver.

So a task that begins a savepoint while another *running* task holds one waits for it to
end, as it would wait for a connection of an exhausted pool. Nesting that production code
does on purpose stays as it is: a task's own savepoints, and those of tasks it started while
it held one (their context says so), nest inside it; a savepoint left open by a task that
has finished (a fixture that seeded rows), or by the test's own ``db_session``, is part of
the test's state, like the outer transaction. A task that waits longer than `WAIT` (its
holder may be waiting for it) goes on as before and the test gets a warning that says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import warnings
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

#: how long a task waits for another's transaction before it goes on regardless (seconds)
WAIT = 1.0
#: where the test's connection keeps its turns while the test runs
_KEY = "harness_turns"


class TurnWarning(pytest.PytestWarning):
    """A task waited for another's transaction on the test's connection, then went on."""


@dataclasses.dataclass(eq=False)
class _Hold:
    """An open savepoint, and the task that began it."""

    name: str
    task: asyncio.Task[Any] | None
    parent: _Hold | None
    ended: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    #: part of the test's state (the test's own session's): never waited for
    ambient: bool = False


#: the innermost savepoint the current task, or the task that started it, holds
_HELD: contextvars.ContextVar[_Hold | None] = contextvars.ContextVar("harness_held", default=None)


class Turns:
    """The open savepoints on one test's connection, innermost last."""

    def __init__(self, nodeid: str) -> None:
        self.nodeid = nodeid
        self.holds: list[_Hold] = []
        self.waited_out: list[str] = []
        #: the task whose next savepoint is the test's own session's (never waited for)
        self.own_next: asyncio.Task[Any] | None = None

    def _blocking(self, task: asyncio.Task[Any]) -> _Hold | None:
        """The innermost savepoint *task* must wait for: held by another task, still running,
        that is neither the test's state nor an ancestor of *task*."""
        mine = set()
        held = _HELD.get()
        while held is not None:
            mine.add(held)
            held = held.parent
        for hold in reversed(self.holds):
            if hold.ambient or hold.task is task or hold in mine:
                continue
            if hold.task is None or hold.task.done():
                continue
            return hold
        return None

    async def _wait(self, task: asyncio.Task[Any]) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT
        while (hold := self._blocking(task)) is not None:
            remaining = deadline - loop.time()
            if remaining <= 0:
                self.waited_out.append(
                    f"task {task.get_name()!r} waited {WAIT:g}s for task "
                    f"{hold.task.get_name() if hold.task else '?'!r} to end its transaction "
                    f"({hold.name}) on the test's connection, then went on inside it: if that "
                    "task waits for this one (a consumer started earlier), their transactions "
                    "nest as they would not in production and the inner one's commit is undone "
                    "with the outer one"
                )
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(hold.ended.wait(), remaining)

    def begin(self, conn: Connection, name: str | None) -> None:
        """Wait for this task's turn, then hold the savepoint *conn* is about to begin."""
        try:
            task = asyncio.current_task()
        except RuntimeError:  # no loop running here: nothing to take turns with
            task = None
        if task is not None and self._blocking(task) is not None:
            from sqlalchemy.util import await_only

            await_only(self._wait(task))  # in SQLAlchemy's greenlet: waits on the loop
        # Named after the wait: SQLAlchemy numbers it once this event returns, and whoever
        # went first meanwhile took the number this one would have read before.
        name = _next_name(conn, name)
        if name is None:
            return
        hold = _Hold(name=name, task=task, parent=_HELD.get())
        if self.own_next is not None and self.own_next is task:
            hold.ambient, self.own_next = True, None
        self.holds.append(hold)
        _HELD.set(hold)

    def end(self, name: str) -> None:
        """Savepoint *name* ended, and with it every savepoint begun after it."""
        for index, hold in enumerate(self.holds):
            if hold.name == name:
                for gone in self.holds[index:]:
                    gone.ended.set()
                del self.holds[index:]
                return

    def close(self) -> None:
        for hold in self.holds:
            hold.ended.set()
        self.holds.clear()


def _next_name(conn: Connection, name: str | None) -> str | None:
    if name is not None:
        return name
    # SQLAlchemy names the savepoint after this event, from a counter of the connection.
    seq = getattr(conn, "_Connection__savepoint_seq", None)
    return None if not isinstance(seq, int) else f"sa_savepoint_{seq + 1}"


def watch(engine: AsyncEngine) -> None:
    """Attach the listeners to *engine* (once, at its creation); `arm` turns them on."""

    def on_savepoint(conn: Connection, name: str | None) -> None:
        turns = conn.info.get(_KEY)
        if turns is not None:
            turns.begin(conn, name)

    def on_end(conn: Connection, name: str, context: Any) -> None:
        turns = conn.info.get(_KEY)
        if turns is not None:
            turns.end(name)

    event.listen(engine.sync_engine, "savepoint", on_savepoint)
    event.listen(engine.sync_engine, "release_savepoint", on_end)
    event.listen(engine.sync_engine, "rollback_savepoint", on_end)


def arm(conn: AsyncConnection, nodeid: str, session: AsyncSession) -> None:
    """Take turns on *conn* for this test; *session* (the test's own) never makes others wait."""
    conn.sync_connection.info[_KEY] = Turns(nodeid)  # type: ignore[union-attr]

    def after_transaction_create(sync_session: Any, transaction: Any) -> None:
        # Before its savepoint begins, in the same task: the savepoint is marked at once, so
        # a task that comes meanwhile never waits for it.
        info = getattr(sync_session.bind, "info", None)
        turns = None if info is None else info.get(_KEY)
        if turns is not None:
            with contextlib.suppress(RuntimeError):
                turns.own_next = asyncio.current_task()

    event.listen(session.sync_session, "after_transaction_create", after_transaction_create)


def disarm(conn: AsyncConnection) -> None:
    """End the test's turns; warn (for the test) of every wait that ran out."""
    info = conn.sync_connection.info if conn.sync_connection is not None else {}
    turns = info.pop(_KEY, None)
    if turns is None:
        return
    turns.close()
    for line in turns.waited_out:
        warnings.warn(TurnWarning(f"harness: {turns.nodeid}: {line}"), stacklevel=1)
