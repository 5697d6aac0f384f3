"""Crash safety of the ``local`` launchers: the watchdog, the sweep, stopping by recorded PID."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import harness
from harness.backends.base import Backend
from harness.backends.mysql import MySQLBackend
from harness.backends.postgresql import PostgreSQLBackend
from harness.launchers._local_process import (
    ProcessRef,
    process_token,
    service_account,
    stop_process,
)
from harness.launchers._local_state import (
    State,
    make_server_dir,
    read_state,
    sweep,
    write_state,
)
from harness.launchers.base import LaunchContext, Launcher
from harness.launchers.local_mysql import LocalMySQLLauncher
from harness.launchers.local_postgresql import LocalPostgreSQLLauncher

REPO = Path(harness.__file__).resolve().parent.parent

#: a child Python that starts one local server, reports where it is, then waits to be killed
OWNER_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from harness.launchers.base import LaunchContext
    from harness.backends.mysql import MySQLBackend
    from harness.backends.postgresql import PostgreSQLBackend
    from harness.launchers.local_mysql import LocalMySQLLauncher
    from harness.launchers.local_postgresql import LocalPostgreSQLLauncher

    pairs = {
        "postgresql": (LocalPostgreSQLLauncher(), PostgreSQLBackend()),
        "mysql": (LocalMySQLLauncher(), MySQLBackend()),
    }
    launcher, backend = pairs[sys.argv[1]]
    ctx = LaunchContext(workdir=Path("."), options={}, progress=lambda line: None, run_id="x")
    server = launcher.start(backend, ctx)
    print(json.dumps({"directory": str(server.stop.__self__.directory)}), flush=True)
    time.sleep(600)
    """
)

PAIRS: dict[str, tuple[Launcher, Backend]] = {
    "postgresql": (LocalPostgreSQLLauncher(), PostgreSQLBackend()),
    "mysql": (LocalMySQLLauncher(), MySQLBackend()),
}


def wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.fixture(params=sorted(PAIRS))
def backend_name(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    launcher, backend = PAIRS[request.param]
    ctx = LaunchContext(workdir=tmp_path, options={}, progress=print, run_id="unit")
    reason = launcher.unavailable_reason(backend, ctx)
    if reason is not None:
        pytest.skip(reason)
    return str(request.param)


@pytest.fixture
def owner() -> Iterator[Callable[[str], tuple[subprocess.Popen[str], Path]]]:
    """Start a child process that owns a local server; the child is killed at teardown."""
    children: list[subprocess.Popen[str]] = []

    def start(backend: str) -> tuple[subprocess.Popen[str], Path]:
        child = subprocess.Popen(
            [sys.executable, "-c", OWNER_SCRIPT, backend],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        children.append(child)
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line, "the owner process died before its server was ready"
        return child, Path(json.loads(line)["directory"])

    yield start
    for child in children:
        child.kill()
        child.wait()
        if child.stdout is not None:
            child.stdout.close()


def test_watchdog_removes_the_server_when_its_owner_is_killed(
    backend_name: str, owner: Callable[[str], tuple[subprocess.Popen[str], Path]]
) -> None:
    child, directory = owner(backend_name)
    state = read_state(directory)
    assert state is not None
    assert state.server is not None
    assert state.watchdog is not None
    assert state.owner.pid == child.pid

    child.send_signal(signal.SIGKILL)
    child.wait()

    assert wait_for(lambda: not directory.exists(), timeout=10), "directory not removed"
    assert wait_for(lambda: not state.server.is_running(), timeout=5)  # type: ignore[union-attr]
    assert wait_for(lambda: not state.watchdog.is_running(), timeout=5)  # type: ignore[union-attr]


def test_sweep_removes_what_a_dead_owner_left_behind(
    owner: Callable[[str], tuple[subprocess.Popen[str], Path]],
) -> None:
    """Owner and watchdog both killed (as by an OOM killer): the next start's sweep cleans up."""
    launcher, backend = PAIRS["postgresql"]
    reason = launcher.unavailable_reason(backend, LaunchContext(Path("."), {}, print, "x"))
    if reason is not None:
        pytest.skip(reason)
    child, directory = owner("postgresql")
    state = read_state(directory)
    assert state is not None
    assert state.server is not None
    assert state.watchdog is not None
    os.kill(state.watchdog.pid, signal.SIGKILL)
    assert wait_for(lambda: not state.watchdog.is_running(), timeout=5)  # type: ignore[union-attr]
    child.kill()
    child.wait()
    assert directory.exists()
    assert state.server.is_running()

    removed = sweep(service_account())

    assert directory in removed
    assert not directory.exists()
    assert not state.server.is_running()


def test_sweep_keeps_live_owners_and_never_signals_a_reused_pid() -> None:
    account = service_account()
    # A directory whose owner is this (live) process: kept.
    live = make_server_dir("unittest", account)
    own = ProcessRef.of(os.getpid())
    assert own is not None
    write_state(live, State(backend="unittest", owner=own))

    # A directory whose owner is dead and whose recorded "server" PID now belongs to another
    # process (its start time differs): removed, and that process is left alone.
    dead_owner = subprocess.Popen([sys.executable, "-c", "pass"])
    owner_ref = ProcessRef.of(dead_owner.pid)
    dead_owner.wait()
    assert owner_ref is None or not owner_ref.is_running()
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        stale = make_server_dir("unittest", account)
        write_state(
            stale,
            State(
                backend="unittest",
                owner=ProcessRef(dead_owner.pid, owner_ref.token if owner_ref else "gone"),
                server=ProcessRef(bystander.pid, "not-its-start-time"),
            ),
        )
        removed = sweep(account)
        assert stale in removed
        assert not stale.exists()
        assert live.exists()
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()
        shutil.rmtree(live, ignore_errors=True)


def test_stop_process_asks_then_kills() -> None:
    stubborn = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "print(flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
    )
    assert stubborn.stdout is not None
    stubborn.stdout.readline()  # the handler is installed
    ref = ProcessRef.of(stubborn.pid)
    assert ref is not None
    started = time.monotonic()
    stop_process(ref, signal.SIGTERM, popen=stubborn, timeout=0.5)
    assert stubborn.returncode == -signal.SIGKILL
    assert time.monotonic() - started < 5
    stubborn.stdout.close()


def test_a_zombie_counts_as_gone() -> None:
    child = subprocess.Popen(["true"])
    assert wait_for(lambda: process_token(child.pid) is None, timeout=5)
    child.wait()
