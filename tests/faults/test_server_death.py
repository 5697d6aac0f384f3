"""A server killed mid-run is named once; its backend's other tests fail fast; others go on."""

from __future__ import annotations

import os
import re

import pytest

from harness.run import workdir

KILLS_ITS_SERVER = """
import os
import signal
import time

from sqlalchemy import text


def gone(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


async def test_1_kills_the_server(db_session, db_backend):
    if db_backend.name == "sqlite":
        return
    if db_backend.name == "postgresql":
        data = (await db_session.execute(text("SHOW data_directory"))).scalar_one()
        pid_file = os.path.join(data, "postmaster.pid")
        # A PostgreSQL backend outlives its postmaster until it notices: wait for this
        # test's own, so that the death is whole before the next test, as after a real one.
        pids = [(await db_session.execute(text("SELECT pg_backend_pid()"))).scalar_one()]
    else:
        pid_file = (await db_session.execute(text("SELECT @@pid_file"))).scalar_one()
        pids = []
    with open(pid_file) as f:
        pids.append(int(f.readline()))
    os.kill(pids[-1], signal.SIGKILL)
    deadline = time.monotonic() + 30
    while not all(gone(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.01)


async def test_2_after(db_session):
    await db_session.execute(text("SELECT 1"))


async def test_3_after(db_session):
    await db_session.execute(text("SELECT 1"))
"""


@pytest.mark.parametrize("backend", ["postgresql", "mysql"])
def test_a_server_killed_mid_run_is_named_and_its_tests_fail_fast(
    project: pytest.Pytester, backend: str
) -> None:
    project.makepyfile(test_death=KILLS_ITS_SERVER)
    result = project.runpytest_subprocess(
        f"--harness-backends=sqlite,{backend}",
        "--harness-launcher=local",
        "-p",
        "no:randomly",
        "-v",
    )
    out = result.stdout.str()
    assert result.ret == 1, out
    for name in ("test_1_kills_the_server", "test_2_after", "test_3_after"):
        assert f"{name}[sqlite] PASSED" in out, out  # the other backend goes on
    # The test that meets the death first (the killer at teardown, or the next one) names it;
    # the rest fail at once with the same line, and the summary says the backend stopped.
    result.stdout.fnmatch_lines([f"*test_3_after[[]{backend}[]] ERROR*"])
    died = (
        f"harness: {backend}: the server (local, local *) died during the run: killed by signal 9"
    )
    result.stdout.fnmatch_lines(
        [f"{died}*The remaining {backend} tests fail; other backends go on"]
    )
    result.stdout.fnmatch_lines(["*harness: backends whose tests did not run*", f"{died}*"])
    assert "Traceback" not in out, out
    assert "ConnectionRefused" not in out, out
    # Nothing is left behind: the run's directory (and the server's in it) is gone.
    match = re.search(rf"({re.escape(str(workdir.root()))}/run-[^/]+)/", out)
    assert match is not None, out
    assert not os.path.exists(match.group(1))
