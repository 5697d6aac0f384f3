"""Faults said in one line: a lock wait that ran out, a server that died during the run.

A pytest plugin (loaded with the fixtures): it rewrites the report of a test that failed
for one of these reasons, where the driver's traceback would bury the cause, and marks a
dead server's backend as down so that its remaining tests fail at once with the same line.
"""

from __future__ import annotations

import gc
import socket
import sys
import warnings
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import pytest

from harness.errors import ServerError
from harness.isolation.marker import isolation_of
from harness.plugin import RUN_KEY, backend_of

if TYPE_CHECKING:
    from harness.run.state import HarnessRun


def _port_refuses(run: HarnessRun, backend: str) -> bool:
    server = run.provisioned[backend].server
    if server is None or not server.url.host or server.url.host.startswith("/"):
        return False
    try:
        with socket.create_connection((server.url.host, server.url.port or 0), timeout=1):
            return False
    except OSError:
        return True


def server_death(run: HarnessRun, backend: str) -> str | None:
    """Why *backend*'s server is gone, if it is: the launcher's account, or a refused port."""
    provisioned = run.provisioned.get(backend)
    if provisioned is None or provisioned.server is None:
        return None
    server = provisioned.server
    what = server.died()
    if what is None and _port_refuses(run, backend):
        what = f"it no longer accepts connections on port {server.url.port}"
    if what is None:
        return None
    return (
        f"{backend}: the server ({server.launcher}, {server.description}) died during the run: "
        f"{what}. The remaining {backend} tests fail; other backends go on"
    )


def _is_connection_failure(exc: BaseException) -> bool:
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

    if isinstance(exc, (InterfaceError, OperationalError, ConnectionError, OSError)):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if call.excinfo is None or not report.failed:
        return report
    backend = backend_of(item)
    if backend is None:
        return report
    run = item.config.stash[RUN_KEY]
    exc = call.excinfo.value
    from harness.isolation.elsewhere import ConnectionElsewhere, mark_said
    from harness.isolation.timeouts import is_lock_timeout, lock_message

    if isinstance(exc, ConnectionElsewhere):
        report.longrepr = f"harness: {exc}"
        mark_said()
    elif is_lock_timeout(exc):
        report.longrepr = lock_message(
            item.nodeid, backend, run.config.lock_timeout, isolation_of(item)
        )
    elif backend not in run.failures and _is_connection_failure(exc):
        death = server_death(run, backend)
        if death is not None:
            run.failures[backend] = ServerError(death)
            report.longrepr = f"harness: {death}"
    return report


def forget_dead_connects() -> None:
    """Collect the driver's abandoned connection attempts to a dead server now, unheard:
    the test already reports the death, and each would add an unraisable-exception error."""
    hook = sys.unraisablehook

    def quiet(unraisable: Any) -> None:
        if getattr(unraisable.object, "__name__", None) != "connect":
            hook(unraisable)

    sys.unraisablehook = quiet
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "coroutine 'connect' was never awaited")
            gc.collect()
    finally:
        sys.unraisablehook = hook


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    # Innermost, so that this runs before pytest collects the unraisable exceptions.
    try:
        return (yield)
    finally:
        backend = backend_of(item)
        if backend is not None and backend in item.config.stash[RUN_KEY].failures:
            forget_dead_connects()
