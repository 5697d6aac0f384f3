"""Under pytest-xdist: one server per backend for the run, a database per worker, no leftovers.

Each test drives a real ``pytest -n 2`` run of the small project (pytester, in a
subprocess: xdist's workers are processes anyway) on real servers.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from harness.backends.base import Backend
from harness.backends.mysql import MySQLBackend
from harness.backends.postgresql import PostgreSQLBackend
from harness.launchers._local_process import service_account
from harness.launchers._local_state import servers_root
from harness.launchers.base import LaunchContext, Launcher
from harness.launchers.local_mysql import LocalMySQLLauncher
from harness.launchers.local_postgresql import LocalPostgreSQLLauncher
from harness.run import workdir
from tests.conftest import INI

pytest.importorskip("xdist")

LOCAL: dict[str, tuple[Launcher, Backend]] = {
    "postgresql": (LocalPostgreSQLLauncher(), PostgreSQLBackend()),
    "mysql": (LocalMySQLLauncher(), MySQLBackend()),
}

#: every test records where it ran: worker, backend, server, database, the controller's dir
TESTS = """
import json, os

import pytest
from sqlalchemy import func, insert, select

from myapp import items


def record(request, db_engine, db_backend, **extra):
    url = db_engine.url
    row = {
        "worker": os.environ.get("PYTEST_XDIST_WORKER"),
        "backend": db_backend.name,
        "server": f"{url.host}:{url.port}",
        "database": url.database,
        "workdir": request.config.workerinput["harness"]["workdir"],
        "pid": os.getpid(),
        **extra,
    }
    with open(os.environ["RECORD"], "a") as f:
        f.write(json.dumps(row) + "\\n")


@pytest.mark.parametrize("i", range(16))
async def test_row(request, db_session, db_engine, db_backend, i):
    # The same unique name in every test: a leak, or a database shared by two workers,
    # would conflict.
    await db_session.execute(insert(items).values(name="same"))
    await db_session.flush()
    assert (await db_session.execute(select(func.count()).select_from(items))).scalar_one() == 1
    record(request, db_engine, db_backend)
"""

#: the first test to run (on whichever worker) kills its worker with SIGKILL
KILLER = """
import os, signal

import pytest


@pytest.mark.parametrize("i", range(4))
def test_kill(db_session, i):
    try:
        fd = os.open(os.environ["RECORD"] + ".killed", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return
    os.close(fd)
    os.kill(os.getpid(), signal.SIGKILL)
"""

#: a test that says it runs, then waits to be killed with its controller
WAITER = """
import json, os, time


def test_wait(request, db_session, db_engine):
    with open(os.environ["RECORD"], "a") as f:
        f.write(json.dumps({
            "pid": os.getpid(),
            "workdir": request.config.workerinput["harness"]["workdir"],
        }) + "\\n")
    time.sleep(120)
"""


def wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def gone(pid: int) -> bool:
    """True once *pid* has exited (a zombie no one reaps yet counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def local_or_skip(backend: str, tmp_path: Path) -> None:
    if backend == "sqlite":
        return
    launcher, impl = LOCAL[backend]
    ctx = LaunchContext(workdir=tmp_path, options={}, progress=lambda line: None, run_id="t")
    reason = launcher.unavailable_reason(impl, ctx)
    if reason is not None:
        pytest.skip(reason)


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def controller_pid(run_dir: str) -> int:
    """The controller's PID, from its run dir's name: ``run-<pid>-<random>``."""
    return int(Path(run_dir).name.split("-")[1])


def left_behind(pid: int) -> list[Path]:
    """What a run whose controller is *pid* left: run dirs and local server dirs."""
    found = list(workdir.root().glob(f"run-{pid}-*"))
    return found + list(servers_root(service_account()).glob(f"*-{pid}-*"))


@pytest.fixture
def record_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "records.jsonl"
    path.touch()
    monkeypatch.setenv("RECORD", str(path))
    return path


@pytest.mark.parametrize("backend", ["sqlite", "postgresql", "mysql"])
def test_one_server_and_a_database_per_worker(
    project: pytest.Pytester, record_file: Path, backend: str, tmp_path: Path
) -> None:
    local_or_skip(backend, tmp_path)
    project.makepyfile(test_rows=TESTS)
    result = project.runpytest_subprocess(
        "-n", "2", "-p", "no:cacheprovider", f"--harness-backends={backend}"
    )
    result.assert_outcomes(passed=16)
    out = result.stdout.str()
    rows = records(record_file)
    assert {row["worker"] for row in rows} == {"gw0", "gw1"}
    # One server for the whole run, started by the controller and by no worker.
    assert len({row["server"] for row in rows}) == 1
    if backend != "sqlite":
        assert out.count(f"harness: {backend} ready in") == 1
    assert "xdist: the controller starts each server and migrates one template" in out
    # A database per worker, each cloned from the template, never migrated by the worker.
    databases = {row["worker"]: row["database"] for row in rows}
    assert len(set(databases.values())) == 2
    for worker in ("gw0", "gw1"):
        verb = "copied from the template file" if backend == "sqlite" else "cloned from template"
        result.stdout.fnmatch_lines([f"harness: {backend}: {verb}* for worker {worker} in *s*"])
    assert left_behind(controller_pid(rows[0]["workdir"])) == []


@pytest.fixture(params=sorted(LOCAL))
def external_server(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """A server the inner run sees as someone else's (``external``), started here."""
    launcher, backend = LOCAL[request.param]
    ctx = LaunchContext(workdir=tmp_path, options={}, progress=lambda line: None, run_id="ext")
    reason = launcher.unavailable_reason(backend, ctx)
    if reason is not None:
        pytest.skip(reason)
    server = launcher.start(backend, ctx)
    yield request.param, server
    server.stop()


async def databases_on(server: Any, backend: str) -> set[str]:
    query = "SELECT datname FROM pg_database" if backend == "postgresql" else "SHOW DATABASES"
    engine = create_async_engine(server.url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            return {str(name) for name in (await conn.execute(text(query))).scalars()}
    finally:
        await engine.dispose()


async def test_external_server_keeps_none_of_the_run_databases(
    project: pytest.Pytester, record_file: Path, external_server: Any
) -> None:
    backend, server = external_server
    before = await databases_on(server, backend)
    project.makepyfile(test_rows=TESTS)
    url = server.url.render_as_string(hide_password=False)
    result = project.runpytest_subprocess(
        "-n",
        "2",
        "-p",
        "no:cacheprovider",
        f"--harness-backends={backend}",
        "--harness-launcher=external",
        f"--harness-url={backend}={url}",
    )
    result.assert_outcomes(passed=16)
    assert str(server.url.password) not in result.stdout.str() + result.stderr.str()
    rows = records(record_file)
    assert len({row["database"] for row in rows}) == 2
    # The template and both workers' databases were on it; none is left.
    assert await databases_on(server, backend) == before


def test_a_worker_killed_mid_run_leaves_nothing(
    project: pytest.Pytester, record_file: Path, tmp_path: Path
) -> None:
    backends = ["sqlite"]
    for name in sorted(LOCAL):
        launcher, impl = LOCAL[name]
        ctx = LaunchContext(workdir=tmp_path, options={}, progress=lambda line: None, run_id="k")
        if launcher.unavailable_reason(impl, ctx) is None:
            backends.append(name)
    project.makepyfile(test_rows=TESTS, test_kill=KILLER)
    result = project.runpytest_subprocess(
        "-n", "2", "-p", "no:cacheprovider", f"--harness-backends={','.join(backends)}"
    )
    outcomes = result.parseoutcomes()
    # One test died with its worker; xdist replaced the worker and the rest ran.
    assert outcomes.get("failed") == 1
    assert outcomes.get("passed") == 16 * len(backends) + 4 * len(backends) - 1
    result.stdout.fnmatch_lines(["*crashed*"])
    rows = records(record_file)
    assert left_behind(controller_pid(rows[0]["workdir"])) == []


def test_a_migration_failure_fails_that_backends_tests_with_one_line(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(
        broken="""
        from sqlalchemy import Column, Integer, MetaData, Table, text

        metadata = MetaData()
        Table("t", metadata, Column("x", Integer, server_default=text("no such (")))
        """,
        test_one="""
        import pytest

        @pytest.mark.parametrize("i", range(6))
        def test_it(db_session, i):
            pass

        def test_without_database():
            pass
        """,
    )
    project.makefile(
        ".ini",
        pytest="""
        [pytest]
        asyncio_mode = auto
        asyncio_default_fixture_loop_scope = function
        harness_metadata = broken:metadata
        """,
    )
    result = project.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=6)
    out = result.stdout.str()
    assert "INTERNALERROR" not in out
    assert out.count("harness: sqlite: migrating the template failed: sqlite: create_all") == 1
    result.stdout.fnmatch_lines(["harness: sqlite: create_all failed: near *: syntax error"])


def test_a_killed_controller_leaves_nothing_after_the_next_sweep(
    project: pytest.Pytester, record_file: Path, tmp_path: Path
) -> None:
    local_or_skip("postgresql", tmp_path)
    project.makepyfile(test_wait=WAITER)
    project.makefile(".ini", pytest=INI + "harness_backends = postgresql\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(project.path), *sys.path]))
    controller = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-n", "2", "-p", "no:cacheprovider", "-q"],
        cwd=project.path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_for(lambda: record_file.read_text().strip() != "", 60)
        assert controller_pid(records(record_file)[0]["workdir"]) == controller.pid
        assert left_behind(controller.pid)  # the run dir and the server's
    finally:
        controller.send_signal(signal.SIGKILL)
        controller.wait()
    worker = records(record_file)[0]["pid"]
    # The server goes with its owner (the watchdog), the workers with their controller.
    assert wait_for(
        lambda: not any(servers_root(service_account()).glob(f"*-{controller.pid}-*")), 30
    )
    assert wait_for(lambda: gone(worker), 30)
    workdir.sweep_stale_runs()
    assert left_behind(controller.pid) == []
