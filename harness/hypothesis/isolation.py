"""Per-example isolation: each example in a SAVEPOINT of its own, the test's sessions reset."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING

from sqlalchemy import inspect as sa_inspect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import make_transient, make_transient_to_detached

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncTransaction


class ExampleIsolationError(RuntimeError):
    """The example's savepoint could not be rolled back (something ended it early)."""


# --- per-example isolation ------------------------------------------------------------------


class ExampleIsolation:
    """Each ``async with`` block is one example: a SAVEPOINT on *connection*, rolled back after.

    ``async with isolation:`` opens a nested transaction (SAVEPOINT) on the test's connection.
    At exit it rolls back each session's own transaction, rolls back the savepoint, and puts
    each session's identity map back as the example found it: objects the example loaded or
    created are expunged (none is handed to the next example), and the objects that were there
    before (a fixture's ``author``, say) are reattached if the example deleted them and
    reloaded from the restored rows. Whatever the example wrote is gone, including what the
    code under test committed: with ``join_transaction_mode="create_savepoint"`` a session's
    commit only releases its own savepoint, nested inside this one.

    Reusable (one block after another), not re-entrant.
    """

    def __init__(self, connection: AsyncConnection, *sessions: AsyncSession) -> None:
        self.connection = connection
        self.sessions: tuple[AsyncSession, ...] = tuple(dict.fromkeys(sessions))
        self._savepoint: AsyncTransaction | None = None
        self._kept: list[list[object]] = []
        #: examples run so far (benchmarks and tests read it)
        self.examples = 0

    @property
    def active(self) -> bool:
        return self._savepoint is not None

    async def __aenter__(self) -> ExampleIsolation:
        if self._savepoint is not None:
            raise ExampleIsolationError("an example is already running in this ExampleIsolation")
        for session in self.sessions:
            if session.in_transaction():
                # A session transaction begun before the example (by a fixture's flush, or a
                # query) holds its own savepoint; ours must be nested inside it, or an
                # example's commit would release both. Its work is the state every example
                # starts from: commit it into the test's outer transaction.
                await session.commit()
        self._kept = [list(session.identity_map.values()) for session in self.sessions]
        self._savepoint = await self.connection.begin_nested()
        self.examples += 1
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        savepoint, self._savepoint = self._savepoint, None
        if savepoint is None:
            return
        try:
            await self._undo(savepoint)
        except Exception as cleanup_error:
            if exc is None:
                raise
            # The example's own failure is what Hypothesis shrinks on: keep it on top.
            if hasattr(exc, "add_note"):
                exc.add_note(f"harness: undoing this example also failed: {cleanup_error!r}")

    async def _undo(self, savepoint: AsyncTransaction) -> None:
        for session in self.sessions:
            # Ends the session's savepoint if one is open (a flush without a commit, or a
            # failed flush) before ours goes, and expires everything the session holds.
            await session.rollback()
        if not savepoint.is_active:
            raise ExampleIsolationError(
                "the example's SAVEPOINT was ended by the code under test (a rollback or "
                "commit on the test's connection itself, or a server-side rollback such as a "
                "deadlock): its writes may have leaked into the next example"
            )
        await savepoint.rollback()
        for session, kept in zip(self.sessions, self._kept, strict=True):
            await _restore_identity_map(session, kept)
        self._kept = []


async def _restore_identity_map(session: AsyncSession, kept: list[object]) -> None:
    """Leave in *session* only the objects in *kept*, attached and loaded from their rows."""
    session.expunge_all()
    if not kept:
        return
    for obj in kept:
        state = sa_inspect(obj)
        if state.was_deleted:
            # Deleted and committed in the example: the row is back, the object is not.
            make_transient(obj)
            make_transient_to_detached(obj)
        session.add(obj)
    for obj in kept:
        # An async session cannot load an expired attribute on access: load them now.
        await session.refresh(obj)
    # The refresh began a session transaction (a savepoint): end it here, outside the next
    # example's savepoint.
    await session.commit()


def per_example(connection: AsyncConnection, *sessions: AsyncSession) -> ExampleIsolation:
    """Isolation for examples run on *connection*; pass every session bound to it.

    ``async with per_example(db_connection, db_session): ...`` runs one example. ``@given``
    tests get this automatically; use it for loops of your own, and for
    :func:`run_state_machine`.
    """
    return ExampleIsolation(connection, *sessions)
