"""Ctrl-C (SIGINT to the process group) and SIGKILL of pytest while the servers start, at
several moments, leave nothing behind: no server process, no watchdog, no directory."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

TEST = """
async def test_one(db_session):
    pass
"""
#: seconds after pytest starts: before, during and after the two servers' start-up
MOMENTS = [0.6, 1.0, 1.4, 1.8, 2.2, 2.8, 3.6]
#: what a dead run's watchdog and the next sweep may take
GRACE = 15.0


def _processes_under(path: Path) -> list[str]:
    """Command lines of live processes that name *path* (the run's private temp root)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(path) in cmdline:
            found.append(f"{entry.name}: {cmdline[:160]}")
    return found


def _leftovers(tmp: Path) -> tuple[list[str], list[str]]:
    dirs = [str(p) for p in tmp.glob("pytest-harness-*/*") if p.name != "reuse"]
    return _processes_under(tmp), dirs


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL], ids=["sigint", "sigkill"])
def test_an_interrupted_start_up_leaves_nothing(
    project: pytest.Pytester, tmp_path_factory: pytest.TempPathFactory, how: signal.Signals
) -> None:
    project.makepyfile(test_interrupt=TEST)
    for moment in MOMENTS:
        tmp = tmp_path_factory.mktemp("tmpdir")
        env = {**os.environ, "TMPDIR": str(tmp)}
        process = subprocess.Popen(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
             "--harness-backends=postgresql,mysql", "--harness-launcher=local"],
            cwd=project.path, env=env, start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        time.sleep(moment)
        try:
            # Ctrl-C reaches the whole foreground process group; SIGKILL only pytest.
            if how == signal.SIGINT:
                os.killpg(process.pid, how)
            else:
                process.send_signal(how)
        except ProcessLookupError:
            pass
        process.wait(timeout=60)
        deadline = time.monotonic() + GRACE
        processes, dirs = _leftovers(tmp)
        while (processes or (how == signal.SIGINT and dirs)) and time.monotonic() < deadline:
            time.sleep(0.25)
            processes, dirs = _leftovers(tmp)
        assert processes == [], f"{how.name} at {moment}s left processes: {processes}"
        if how == signal.SIGINT:
            assert dirs == [], f"SIGINT at {moment}s left directories: {dirs}"
        else:
            # A killed run cannot clean up: the next run's sweep removes what it left.
            subprocess.run(
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                 "--harness-backends=sqlite"],
                cwd=project.path, env=env, check=False, stdout=subprocess.DEVNULL,
            )  # fmt: skip
            assert _leftovers(tmp) == ([], []), f"SIGKILL at {moment}s: not swept"
