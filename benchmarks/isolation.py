"""Benchmark: what one isolated test costs, per backend, against the floors beneath it.

For each backend, in one run:
  (a) the raw driver floor of one isolation cycle:
      BEGIN; SAVEPOINT; INSERT one row; ROLLBACK TO SAVEPOINT; ROLLBACK
  (b) the same cycle through a bare SQLAlchemy AsyncSession with
      join_transaction_mode="create_savepoint" (connection checkout included)
  (c) the per-test cost of a pytest test that uses ``db_session`` and inserts one row,
      minus that of a test that uses no fixture, over a few hundred tests each
  and the session start-up: server ready, then migrations done.

Usage: python benchmarks/isolation.py [--backends all] [--launcher local] [--cycles 500]
       [--tests 300]
Prints a table; the target is (c) <= 1.25 x (b). Timings are never asserted anywhere.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Integer, MetaData, String, Table, insert
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from harness.builtins import default_registry
from harness.config import Sources, resolve
from harness.run.state import HarnessRun

ROOT = Path(__file__).resolve().parent.parent
metadata = MetaData()
bench = Table(
    "bench_rows", metadata, Column("id", Integer, primary_key=True), Column("v", String(20))
)

# --- (a) raw drivers: one cycle each, per driver --------------------------------------------

CYCLE = [
    "BEGIN",
    "SAVEPOINT sp",
    "INSERT INTO bench_rows (v) VALUES ('x')",
    "ROLLBACK TO SAVEPOINT sp",
    "ROLLBACK",
]


async def timed_cycles(execute: Callable[[str], Awaitable[object]], cycles: int) -> list[float]:
    """Run the raw CYCLE *cycles* times through *execute*; each cycle's wall time."""
    times = []
    for _ in range(cycles):
        start = time.perf_counter()
        for statement in CYCLE:
            await execute(statement)
        times.append(time.perf_counter() - start)
    return times


async def raw_asyncpg(url: URL, cycles: int) -> list[float]:
    import asyncpg

    conn = await asyncpg.connect(
        user=url.username,
        password=url.password,
        host=url.host,
        port=url.port,
        database=url.database,
    )
    try:
        return await timed_cycles(conn.execute, cycles)
    finally:
        await conn.close()


async def raw_aiomysql(url: URL, cycles: int) -> list[float]:
    import aiomysql

    conn = await aiomysql.connect(
        user=url.username,
        password=url.password or "",
        host=url.host,
        port=url.port,
        db=url.database,
        autocommit=True,
    )
    try:
        async with conn.cursor() as cur:
            return await timed_cycles(cur.execute, cycles)
    finally:
        conn.close()


async def raw_aiosqlite(url: URL, cycles: int) -> list[float]:
    import aiosqlite

    # isolation_level=None: the driver issues no BEGIN of its own, as the harness's fix does.
    async with aiosqlite.connect(url.database or "", isolation_level=None) as conn:
        return await timed_cycles(conn.execute, cycles)


RAW: dict[str, Callable[[URL, int], Awaitable[list[float]]]] = {
    "postgresql": raw_asyncpg,
    "mysql": raw_aiomysql,
    "sqlite": raw_aiosqlite,
}

# --- (b) SQLAlchemy ----------------------------------------------------------------------------


async def sqlalchemy_cycles(run: HarnessRun, name: str, cycles: int) -> list[float]:
    provisioned = run.get(name)
    engine = create_async_engine(provisioned.url)
    provisioned.backend.prepare_engine(engine)
    try:
        times = []
        for _ in range(cycles):
            start = time.perf_counter()
            async with engine.connect() as conn:
                outer = await conn.begin()
                session = AsyncSession(bind=conn, join_transaction_mode="create_savepoint")
                await session.execute(insert(bench).values(v="x"))
                await session.close()
                await outer.rollback()
            times.append(time.perf_counter() - start)
        return times
    finally:
        await engine.dispose()


# --- (c) pytest ----------------------------------------------------------------------------------

CONFTEST = """
import json, os, time
import pytest

_times = {}

@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    start = time.perf_counter()
    try:
        return (yield)
    finally:
        _times[item.nodeid] = time.perf_counter() - start

def pytest_sessionfinish(session):
    with open(os.environ["BENCH_OUT"], "w") as f:
        json.dump(_times, f)
"""

TESTS = """
from sqlalchemy import insert
from benchmod import bench

async def test_plain_{i}():
    pass

async def test_db_{i}(db_session):
    await db_session.execute(insert(bench).values(v="x"))
"""

BENCHMOD = """
from sqlalchemy import Column, Integer, MetaData, String, Table
metadata = MetaData()
bench = Table(
    "bench_rows", metadata, Column("id", Integer, primary_key=True), Column("v", String(20))
)
"""


def pytest_per_test(backend: str, launcher: str, tests: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="harness-bench-") as tmp:
        project = Path(tmp)
        (project / "conftest.py").write_text(CONFTEST)
        (project / "benchmod.py").write_text(textwrap.dedent(BENCHMOD))
        (project / "pytest.ini").write_text(
            "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
            "harness_metadata = benchmod:metadata\n"
        )
        body = "".join(TESTS.format(i=i).split("\n", 3)[3] for i in range(tests))
        header = "from sqlalchemy import insert\nfrom benchmod import bench\n"
        (project / "test_bench.py").write_text(header + body)
        out = project / "times.json"
        env = {**os.environ, "BENCH_OUT": str(out), "PYTHONPATH": str(project)}
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                f"--harness-backends={backend}",
                f"--harness-launcher={launcher}",
                "-p",
                "no:randomly",
                str(project),
            ],
            cwd=project,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        times: dict[str, float] = json.loads(out.read_text())
    db = [t for node, t in times.items() if "test_db_" in node]
    plain = [t for node, t in times.items() if "test_plain_" in node]
    # The first db test pays for engine creation and migrations: that is start-up, not per-test.
    db_steady = sorted(db)[: len(db) - 1]
    return {
        "db_mean": statistics.mean(db_steady),
        "db_median": statistics.median(db),
        "plain_mean": statistics.mean(plain),
        "plain_median": statistics.median(plain),
    }


async def cycles(run: HarnessRun, name: str, count: int) -> dict[str, Any]:
    """(a) and (b) for one backend, on a table created for the purpose."""
    provisioned = run.get(name)
    engine = create_async_engine(provisioned.url)
    provisioned.backend.prepare_engine(engine)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    await engine.dispose()
    raw = await RAW[name](provisioned.url, count)
    orm = await sqlalchemy_cycles(run, name, count)
    return {"raw": statistics.median(raw), "sqlalchemy": statistics.median(orm)}


# --- start-up ------------------------------------------------------------------------------------


async def migrate_time(run: HarnessRun, name: str) -> float:
    from harness.migrations import migrate

    provisioned = run.get(name)
    engine = create_async_engine(provisioned.url)
    provisioned.backend.prepare_engine(engine)
    start = time.perf_counter()
    try:
        await migrate(engine, backend=name, alembic_ini=ROOT / "alembic.ini", metadata=None)
    finally:
        await engine.dispose()
    return time.perf_counter() - start


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.3f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backends", default="all")
    parser.add_argument("--launcher", default="local")
    parser.add_argument("--cycles", type=int, default=500)
    parser.add_argument("--tests", type=int, default=300)
    parser.add_argument(
        "--skip-migrations", action="store_true", help="do not time the reference app's migrations"
    )
    args = parser.parse_args()

    registry = default_registry()
    config = resolve(
        Sources(
            cli={"harness_backends": args.backends, "harness_launcher": args.launcher},
            env={},
            ini=lambda key: None,
        ),
        backends=list(registry.backends),
        launchers=registry.launcher_names(),
    )
    run = HarnessRun(config, registry, progress=print, rootdir=ROOT)
    rows: list[dict[str, Any]] = []
    try:
        for name in config.backends:
            start = time.perf_counter()
            run.ensure([name])
            ready = time.perf_counter() - start
            provisioned = run.get(name)

            result = asyncio.run(cycles(run, name, args.cycles))
            result["migrate"] = (
                float("nan") if args.skip_migrations else asyncio.run(migrate_time(run, name))
            )
            result["ready"] = ready
            result.update(pytest_per_test(name, args.launcher, args.tests))
            result["name"] = name
            result["version"] = provisioned.version
            rows.append(result)
    finally:
        for problem in run.close():
            print(problem, file=sys.stderr)

    print()
    print(
        f"isolation cycle and per-test cost, ms (median of {args.cycles} cycles; "
        f"{args.tests} tests of each kind)"
    )
    print(
        f"{'backend':<11}{'(a) raw':>9}{'(b) SA':>9}{'(c) test':>9}{'c mean':>9}"
        f"{'b/a':>7}{'c/b':>7}{'ready s':>9}{'migr s':>8}  server"
    )
    for row in rows:
        c_median = row["db_median"] - row["plain_median"]
        c_mean = row["db_mean"] - row["plain_mean"]
        print(
            f"{row['name']:<11}{ms(row['raw']):>9}{ms(row['sqlalchemy']):>9}{ms(c_median):>9}"
            f"{ms(c_mean):>9}{row['sqlalchemy'] / row['raw']:>7.2f}"
            f"{c_median / row['sqlalchemy']:>7.2f}{row['ready']:>9.2f}{row['migrate']:>8.2f}"
            f"  {row['version']}"
        )
    print("(c) = median per-test wall time of a db_session test inserting one row minus that of")
    print("      a test using no fixture; c mean excludes the first db test (engine + migrations).")
    print("target: c/b <= 1.25")
    return 0


if __name__ == "__main__":
    sys.exit(main())
