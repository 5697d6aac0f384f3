"""Hypothesis on every backend: per-example isolation, the harness's profiles, async machines.

Hypothesis runs a function-scoped fixture once per *test*, not once per example, so the
database state one example leaves behind is what the next one starts from. The harness
closes that gap in three ways:

* every example of an async ``@given`` test that uses the test's connection (``db_connection``,
  ``db_session``, ``app`` or ``client``, directly or through other fixtures) runs inside its
  own SAVEPOINT, rolled back after it, with the test's sessions reset; nothing to write::

      @given(isbn=st.text(min_size=1, max_size=13))
      async def test_isbn_is_unique(client, isbn):
          ...  # each example starts from the state the test started from

  so the harness also answers Hypothesis's ``function_scoped_fixture`` health check for its
  own fixtures (the user's own function-scoped fixtures are still reported);
* :class:`ExampleIsolation` (``per_example(db_connection, db_session)``) is the same thing as
  an ``async with`` block, for code that loops by itself;
* :func:`run_state_machine` runs a :class:`AsyncStateMachine` (a ``RuleBasedStateMachine``
  whose rules may ``self.wait(coroutine)``) from an async test, each run isolated.

Two settings profiles are registered: :data:`CI_PROFILE` (derandomized, bounded, no deadline,
failure blobs printed), selected by default, and :data:`DEEP_PROFILE`, one option away:
``pytest --hypothesis-profile=harness-deep``.

This module is also a pytest plugin (its hooks are at the bottom); ``harness.plugin`` loads
it when Hypothesis is installed.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import inspect
import sys
from collections.abc import Awaitable, Callable, Generator, Iterator, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast

import pytest
from hypothesis import HealthCheck, is_hypothesis_test, settings
from hypothesis import settings as Settings
from hypothesis.errors import FailedHealthCheck
from hypothesis.stateful import RuleBasedStateMachine, run_state_machine_as_test
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import make_transient, make_transient_to_detached

from harness.closure import builds_on

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncTransaction

T = TypeVar("T")
M = TypeVar("M", bound=RuleBasedStateMachine)

#: Selected unless another profile is: the same examples on every run and every backend
#: (derandomized), a bounded number of them, no deadline (database timings vary by backend
#: and machine), and a failure prints the ``@reproduce_failure`` blob that replays it.
CI_PROFILE: Final = "harness-ci"
#: ``--hypothesis-profile=harness-deep``: twenty times the examples, longer state machine
#: runs, random seeds, and the example database on, so a failure found once is replayed.
DEEP_PROFILE: Final = "harness-deep"

settings.register_profile(
    CI_PROFILE,
    derandomize=True,
    max_examples=50,
    stateful_step_count=25,
    deadline=None,
    print_blob=True,
    # Derandomized runs need no memory of earlier ones; CI machines start clean anyway.
    database=None,
)
settings.register_profile(
    DEEP_PROFILE,
    derandomize=False,
    max_examples=1000,
    stateful_step_count=60,
    deadline=None,
    print_blob=True,
)

#: The harness fixtures on the test's connection (its outer transaction): a test that uses one
#: of them gets per-example isolation, and Hypothesis's function-scoped-fixture check is
#: answered for them. The connection is ``db_connection``, or the bind of ``db_session``.
CONNECTION_FIXTURE: Final = "db_connection"
SESSION_FIXTURE: Final = "db_session"
ISOLATED_FIXTURES: Final = frozenset({"db_connection", "db_session", "app", "client"})
#: ``@pytest.mark.harness_examples(isolate=False)``: let examples share database state.
MARKER: Final = "harness_examples"


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


# --- the pytest side: automatic isolation of @given tests, and the health check -------------


def _fixture_defs(item: pytest.Item) -> dict[str, Sequence[Any]]:
    info = getattr(item, "_fixtureinfo", None)
    return dict(getattr(info, "name2fixturedefs", {}))


def _builds_on_isolated(name: str, defs: dict[str, Sequence[Any]]) -> bool:
    """Whether fixture *name* uses the test's connection, directly or through other fixtures."""
    return builds_on([name], ISOLATED_FIXTURES, defs)


def _unisolated_fixtures(item: pytest.Item) -> list[str]:
    """The test's function-scoped fixture arguments that per-example isolation does not reset.

    Hypothesis's ``function_scoped_fixture`` check looks at the same arguments. The harness's
    own fixtures are reset per example, and so is what a fixture built on them wrote to the
    database or holds in the session (a fixture's ``author`` object); anything else, such as
    ``tmp_path`` or a list, is set up once and shared by every example.
    """
    info = getattr(item, "_fixtureinfo", None)
    defs = _fixture_defs(item)
    # Parametrized arguments are values, not fixtures; Hypothesis leaves them alone too.
    parametrized = set(getattr(getattr(item, "callspec", None), "params", {}))
    names = []
    for name in getattr(info, "argnames", ()):
        chain = defs.get(name)
        if (
            chain
            and chain[-1].scope == "function"
            and name not in parametrized
            and not _builds_on_isolated(name, defs)
        ):
            names.append(name)
    return names


def _check_other_fixtures(item: pytest.Item, test_settings: Settings) -> None:
    """Hypothesis's function-scoped-fixture check, for the fixtures the harness does not reset."""
    __tracebackhide__ = True
    if HealthCheck.function_scoped_fixture in set(test_settings.suppress_health_check):
        return
    others = _unisolated_fixtures(item)
    if not others:
        return
    raise FailedHealthCheck(
        f"{item.nodeid!r} uses function-scoped fixture(s) {', '.join(map(repr, others))}.\n\n"
        "The harness rolls the database back after every example, so its own fixtures "
        f"({', '.join(sorted(ISOLATED_FIXTURES))}) and fixtures built on them are safe under "
        "@given. These are not: they are set up once per test and every example shares them. "
        "If that is what you want, add "
        "@settings(suppress_health_check=[HealthCheck.function_scoped_fixture]); otherwise "
        "build the value inside the test (st.data(), or a context manager)."
    )


def _wants_isolation(item: pytest.Item) -> bool:
    marker = item.get_closest_marker(MARKER)
    return marker is None or bool(marker.kwargs.get("isolate", True))


def _isolation_for(item: pytest.Item) -> ExampleIsolation | None:
    funcargs: dict[str, Any] = getattr(item, "funcargs", {})
    connection = funcargs.get(CONNECTION_FIXTURE)
    session = funcargs.get(SESSION_FIXTURE)
    if connection is None and isinstance(session, AsyncSession):
        connection = session.bind
    if not isinstance(connection, AsyncConnection):
        return None
    sessions = [
        value
        for value in funcargs.values()
        if isinstance(value, AsyncSession) and value.bind is connection
    ]
    return ExampleIsolation(connection, *sessions)


def isolated_examples(item: pytest.Item) -> contextlib.AbstractContextManager[object]:
    """Around one test call: run each example of an async ``@given`` test in its own savepoint.

    A no-op unless *item* is an async Hypothesis test that uses the test's connection (through
    ``db_session``, ``db_connection``, ``app`` or ``client``) and is not marked
    ``harness_examples(isolate=False)``. Otherwise the test body Hypothesis calls per example
    (``test.hypothesis.inner_test``, which pytest-asyncio then runs on the session loop) is
    wrapped in an :class:`ExampleIsolation`, and Hypothesis's ``function_scoped_fixture``
    health check is answered for the fixtures that isolation resets (it is still raised, by
    the harness, for the others). Everything is restored when the context exits.
    """
    __tracebackhide__ = True
    obj = getattr(item, "obj", None)
    inner = getattr(getattr(obj, "hypothesis", None), "inner_test", None)
    if (
        obj is None
        or inner is None
        or not is_hypothesis_test(obj)
        or not inspect.iscoroutinefunction(inner)
        or getattr(inner, "_harness_isolated", False)
        or not _wants_isolation(item)
    ):
        return contextlib.nullcontext()
    isolation = _isolation_for(item)
    if isolation is None:
        return contextlib.nullcontext()
    function = getattr(obj, "__func__", obj)
    # @given stores the settings it runs with on the test; Settings() is the current profile.
    test_settings: Settings = (
        getattr(function, "_hypothesis_internal_use_settings", None) or Settings()
    )
    _check_other_fixtures(item, test_settings)
    return _isolating(obj, function, inner, isolation, test_settings)


@contextlib.contextmanager
def _isolating(
    obj: Any,
    function: Any,
    inner: Callable[..., Awaitable[Any]],
    isolation: ExampleIsolation,
    test_settings: Settings,
) -> Iterator[ExampleIsolation]:
    @functools.wraps(inner)
    async def each_example(*args: Any, **kwargs: Any) -> Any:
        async with isolation:
            return await inner(*args, **kwargs)

    each_example._harness_isolated = True  # type: ignore[attr-defined]  # marks the wrapper
    function._hypothesis_internal_use_settings = Settings(
        parent=test_settings,
        suppress_health_check=(
            *test_settings.suppress_health_check,
            HealthCheck.function_scoped_fixture,
        ),
    )
    obj.hypothesis.inner_test = each_example
    try:
        yield isolation
    finally:
        obj.hypothesis.inner_test = inner
        function._hypothesis_internal_use_settings = test_settings


def select_default_profile(config: pytest.Config) -> str:
    """Load :data:`CI_PROFILE` unless a profile was chosen; return the profile in effect.

    A profile is chosen by ``--hypothesis-profile`` or by ``settings.load_profile(...)`` in a
    conftest (which runs before this).
    """
    chosen = config.getoption("hypothesis_profile", default=None)
    # "ci" is the profile newer Hypothesis loads by itself when the CI variable is set: not
    # the project's choice, so the harness's own CI profile still applies.
    if not chosen and settings.get_current_profile_name() in ("default", "ci"):
        settings.load_profile(CI_PROFILE)
    return settings.get_current_profile_name()


# --- state machines whose rules await --------------------------------------------------------

_LOOP: contextvars.ContextVar[asyncio.AbstractEventLoop] = contextvars.ContextVar(
    "harness_machine_loop"
)


def _wait(awaitable: Awaitable[T]) -> T:
    """Run *awaitable* on the test's event loop from the machine's thread; return its result."""
    __tracebackhide__ = True
    try:
        loop = _LOOP.get()
    except LookupError:
        raise RuntimeError(
            "AsyncStateMachine.wait() only works inside harness.hypothesis.run_state_machine(), "
            "which runs the machine next to the test's event loop"
        ) from None
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        raise RuntimeError("wait() was called on the event loop's own thread: it would block it")

    async def _await() -> T:
        return await awaitable

    return asyncio.run_coroutine_threadsafe(_await(), loop).result()


class AsyncStateMachine(RuleBasedStateMachine):
    """A ``RuleBasedStateMachine`` for async code: rules stay plain methods and call ``wait``.

    Hypothesis's rules are synchronous; run with :func:`run_state_machine`, the machine runs
    in a worker thread and ``self.wait(client.get(...))`` runs the coroutine on the test's
    event loop (where the engine, the session and the client live) and returns its result.
    """

    def wait(self, awaitable: Awaitable[T]) -> T:
        __tracebackhide__ = True
        return _wait(awaitable)


def _stateful_settings(
    machine: type[RuleBasedStateMachine] | None, given: Settings | None
) -> Settings:
    if given is not None:
        return given
    if machine is not None and getattr(machine, "_hypothesis_internal_settings_applied", False):
        applied: Settings = machine.TestCase.settings
        return applied
    # The profile in effect (max_examples, stateful_step_count, derandomize, print_blob), and
    # Hypothesis's own defaults for state machines: no deadline, no health checks (a step
    # is an HTTP request and a database round trip, not data generation).
    return Settings(deadline=None, suppress_health_check=list(HealthCheck))


async def run_state_machine(
    machine: Callable[..., M],
    /,
    *args: Any,
    isolation: ExampleIsolation | None = None,
    settings: Settings | None = None,
    **kwargs: Any,
) -> None:
    """Run ``machine(*args, **kwargs)`` as a Hypothesis state machine test from an async test.

    Each run (one instance of the machine, one Hypothesis example) is wrapped in *isolation*
    (usually ``per_example(db_connection, db_session)``), so every run starts from the state
    the test started from. *settings* defaults to the machine's ``@settings`` if it has one,
    else the current profile with no deadline. ``@seed`` and ``@reproduce_failure`` work
    when applied to the machine class, as with Hypothesis's own runner.

    The machine runs in a worker thread while this coroutine waits; its ``wait()`` calls run
    on this event loop.
    """
    __tracebackhide__ = True
    loop = asyncio.get_running_loop()
    machine_class = (
        machine
        if isinstance(machine, type) and issubclass(machine, RuleBasedStateMachine)
        else None
    )

    def factory() -> M:
        if isolation is not None:
            _wait(isolation.__aenter__())
        try:
            instance = machine(*args, **kwargs)
        except BaseException:
            if isolation is not None:
                _wait(isolation.__aexit__(*sys.exc_info()))
            raise
        if isolation is not None:
            teardown: Callable[[], None] = instance.teardown

            def isolated_teardown() -> None:
                try:
                    teardown()
                finally:
                    _wait(isolation.__aexit__(*sys.exc_info()))

            instance.teardown = isolated_teardown  # type: ignore[method-assign]
        return instance

    # What Hypothesis's runner reads from the factory: the machine's digest (for its example
    # database) through __wrapped__, and @seed / @reproduce_failure.
    factory.__wrapped__ = machine  # type: ignore[attr-defined]
    factory.__name__ = getattr(machine, "__name__", factory.__name__)
    for attribute in (
        "_hypothesis_internal_use_seed",
        "_hypothesis_internal_use_reproduce_failure",
    ):
        if hasattr(machine, attribute):
            setattr(factory, attribute, getattr(machine, attribute))
    chosen = _stateful_settings(machine_class, settings)

    def run() -> None:
        __tracebackhide__ = True
        # Older Hypothesis leaves this function unannotated; newer annotates the factory as
        # a class though any callable returning a machine works (and is documented to).
        run_state_machine_as_test(  # type: ignore[no-untyped-call, unused-ignore]
            cast(Any, factory), settings=chosen
        )

    token = _LOOP.set(loop)
    try:
        # to_thread copies this context, so the worker sees _LOOP.
        await asyncio.to_thread(run)
    finally:
        _LOOP.reset(token)


# --- pytest hooks (harness.plugin loads this module as a plugin when Hypothesis is installed) -


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(isolate=True): isolate=False lets the examples of this @given test share "
        "database state (no per-example savepoint)",
    )
    select_default_profile(config)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    __tracebackhide__ = True
    with isolated_examples(item):
        return (yield)


__all__ = [
    "CI_PROFILE",
    "DEEP_PROFILE",
    "AsyncStateMachine",
    "ExampleIsolation",
    "ExampleIsolationError",
    "isolated_examples",
    "per_example",
    "run_state_machine",
    "select_default_profile",
]
