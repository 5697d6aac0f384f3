"""State machines whose rules await: `AsyncStateMachine` and `run_state_machine`."""

from __future__ import annotations

import asyncio
import contextvars
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from hypothesis import HealthCheck
from hypothesis import settings as Settings
from hypothesis.stateful import RuleBasedStateMachine, run_state_machine_as_test

from harness.hypothesis.isolation import ExampleIsolation

T = TypeVar("T")
M = TypeVar("M", bound=RuleBasedStateMachine)


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
