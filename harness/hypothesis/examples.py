"""Automatic per-example isolation of async ``@given`` tests, and the fixture health check."""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any, Final

import pytest
from hypothesis import HealthCheck, is_hypothesis_test
from hypothesis import settings as Settings
from hypothesis.errors import FailedHealthCheck
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from harness.closure import builds_on
from harness.hypothesis.isolation import ExampleIsolation

#: The harness fixtures on the test's connection (its outer transaction): a test that uses one
#: of them gets per-example isolation, and Hypothesis's function-scoped-fixture check is
#: answered for them. The connection is ``db_connection``, or the bind of ``db_session``.
CONNECTION_FIXTURE: Final = "db_connection"
SESSION_FIXTURE: Final = "db_session"
ISOLATED_FIXTURES: Final = frozenset({"db_connection", "db_session", "app", "client"})
#: ``@pytest.mark.harness_examples(isolate=False)``: let examples share database state.
MARKER: Final = "harness_examples"


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
