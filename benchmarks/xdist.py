"""Benchmark: a DB-bound suite under pytest-xdist, per backend, with -n 0, -n 1 and -n 2.

Generates a project of N tests (default 2,000), each adding a row through ``db_session``,
flushing and counting, and runs it whole in a fresh pytest per (backend, -n). Prints the wall
time of each run, the servers it started (the distinct servers its tests saw, from every
worker), the CPU time of the whole process tree and how many cores it kept busy on average
(CPU / wall: near the core count, the run is CPU-bound and more workers cannot help), and
the speed-up of -n 2 over -n 0. With --repeat, the fastest of the runs counts:
whatever else the machine runs only ever adds time. The target on a 2-core machine: -n 2 at
least 1.5 x faster than -n 0. Timings are never asserted anywhere.

Usage: python benchmarks/xdist.py [--backends all] [--launcher local] [--tests 2000]
       [--workers 0,1,2] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

APP = """
from sqlalchemy import Column, Integer, MetaData, String, Table

metadata = MetaData()
rows = Table(
    "bench_rows", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(50), unique=True, nullable=False),
)
"""

INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
harness_metadata = benchapp:metadata
"""

#: records, once per process and backend, which server the tests ran on
CONFTEST = """
import json, os

import pytest

_seen = set()


@pytest.fixture(autouse=True)
def _which_server(request, db_backend, db_engine):
    key = db_backend.name
    if key not in _seen:
        _seen.add(key)
        url = db_engine.url
        with open(os.environ["BENCH_SERVERS"], "a") as f:
            f.write(json.dumps([key, f"{url.host}:{url.port}"]) + "\\n")
"""

TESTS = """
import pytest
from sqlalchemy import func, insert, select

from benchapp import rows


@pytest.mark.parametrize("i", range({count}))
async def test_row(db_session, i):
    await db_session.execute(insert(rows).values(name=f"row-{{i}}"))
    await db_session.flush()
    total = await db_session.execute(select(func.count()).select_from(rows))
    assert total.scalar_one() == 1
"""


def make_project(directory: Path, tests: int, files: int = 20) -> None:
    (directory / "benchapp.py").write_text(textwrap.dedent(APP))
    (directory / "pytest.ini").write_text(textwrap.dedent(INI))
    (directory / "conftest.py").write_text(textwrap.dedent(CONFTEST))
    per_file, extra = divmod(tests, files)
    for index in range(files):
        count = per_file + (1 if index < extra else 0)
        if count:
            (directory / f"test_bench_{index:02d}.py").write_text(
                textwrap.dedent(TESTS.format(count=count))
            )


def run_once(
    directory: Path, backend: str, workers: int, launcher: str
) -> tuple[float, int, int, str, float]:
    """Run the suite once; return (wall seconds, passed, servers seen, last output line,
    CPU seconds of the process tree: pytest, its workers and the servers it started)."""
    servers_file = directory / "servers.jsonl"
    servers_file.write_text("")
    env = dict(os.environ, BENCH_SERVERS=str(servers_file))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(directory), env.get("PYTHONPATH")) if p)
    for name in list(env):
        if name.startswith("HARNESS_"):
            del env[name]
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", str(workers)]
    argv += [f"--harness-backends={backend}", f"--harness-launcher={launcher}"]
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out:
        process = subprocess.Popen(argv, cwd=directory, env=env, stdout=out, stderr=out)
        # wait4 for the CPU time: waited-for descendants count too (workers, servers)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        out.seek(0)
        stdout = out.read()
    cpu = usage.ru_utime + usage.ru_stime
    last = (stdout.strip().splitlines() or [""])[-1]
    passed = int(last.split(" passed")[0].split()[-1]) if " passed" in last else 0
    seen = {tuple(json.loads(line)) for line in servers_file.read_text().splitlines()}
    return wall, passed, len({server for _, server in seen}), last, cpu


def _burn(loops: int) -> float:
    started = time.perf_counter()
    total = 0
    for i in range(loops):
        total += i * i
    return time.perf_counter() - started


def parallel_efficiency(loops: int = 10_000_000) -> float:
    """How many times more CPU work two processes get done than one, here and now.

    2.0 on two idle cores; a shared or throttled VM gives less, and then so does -n 2.
    """
    from concurrent.futures import ProcessPoolExecutor

    one = _burn(loops)
    with ProcessPoolExecutor(max_workers=2) as pool:
        started = time.perf_counter()
        list(pool.map(_burn, [loops, loops]))
        two = time.perf_counter() - started
    return 2 * one / two


def main() -> int:
    # As users run: Python caches bytecode (and pytest its rewritten modules) between runs.
    # A machine that sets PYTHONDONTWRITEBYTECODE would compile every module on every run.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="all")
    parser.add_argument("--launcher", default="local")
    parser.add_argument("--tests", type=int, default=2000)
    parser.add_argument("--workers", default="0,1,2")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    backends = (
        ["sqlite", "postgresql", "mysql"] if args.backends == "all" else args.backends.split(",")
    )
    counts = [int(n) for n in args.workers.split(",")]
    print(
        f"{args.tests} DB-bound tests per run, launcher {args.launcher}, {os.cpu_count()} cores; "
        f"two processes get {parallel_efficiency():.2f}x the CPU work of one done"
    )
    print(
        f"{'backend':<11} {'-n':>3} {'wall s':>8} {'passed':>7} {'servers':>8} {'CPU s':>7}"
        f" {'cores busy':>10}"
    )
    failed = False
    with tempfile.TemporaryDirectory(prefix="harness-bench-xdist-") as tmp:
        directory = Path(tmp)
        make_project(directory, args.tests)
        for backend in backends:
            walls: dict[int, float] = {}
            for workers in counts:
                results = [
                    run_once(directory, backend, workers, args.launcher) for _ in range(args.repeat)
                ]
                fastest = min(results, key=lambda r: r[0])
                wall, cpu = fastest[0], fastest[4]
                _, passed, servers, last, _ = results[-1]
                walls[workers] = wall
                print(
                    f"{backend:<11} {workers:>3} {wall:>8.2f} {passed:>7} {servers:>8} "
                    f"{cpu:>7.2f} {cpu / wall:>10.2f}"
                )
                if passed != args.tests:
                    failed = True
                    print(f"    unexpected result: {last}")
            if 0 in walls and 2 in walls:
                print(f"{backend:<11} speed-up of -n 2 over -n 0: {walls[0] / walls[2]:.2f}x")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
