"""Benchmark: the per-test cost of the harness as users pay it, against what they would
write by hand, per backend, in one run.

Three generated suites, each run at two sizes; the per-test cost is the slope of pytest's
whole in-process suite time (JUnit XML: collection, hooks, fixtures, reporting) between the
sizes, minus the slope of a suite of fixture-less async tests (what pytest and
pytest-asyncio cost anyway). The kinds take turns, R rounds of every kind at both sizes, and
each kind's figure is the median of its R slopes.

  harness      ``db_session``: insert one row, flush
  hand-written a conftest.py with the same isolation (outer transaction on a connection,
               a session with join_transaction_mode="create_savepoint"): the same test
  plain        ``async def test(): pass``

beside (b), the bare SQLAlchemy cycle on the same server timed in a loop (connection
checkout, BEGIN, a savepoint session, the insert, ROLLBACK), and the protocol-only figure of
benchmarks/isolation.py. Targets: harness <= hand-written, and harness <= 1.25 x (b).

Usage: python benchmarks/per_test.py [--backends sqlite,postgresql,mysql] [--small 50]
       [--large 300] [--repeats 7] [--cycles 500]
Timings are never asserted anywhere.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from harness.builtins import default_registry
from harness.config import Sources, resolve
from harness.run.state import HarnessRun

sys.path.insert(0, str(Path(__file__).resolve().parent))
from isolation import bench, metadata  # the benchmarks folder is not a package

BENCHMOD = """
from sqlalchemy import Column, Integer, MetaData, String, Table

metadata = MetaData()
bench = Table(
    "bench_rows", metadata, Column("id", Integer, primary_key=True), Column("v", String(20))
)
"""
INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
harness_metadata = benchmod:metadata
"""
HARNESS_TEST = """
import pytest
from sqlalchemy import insert
from benchmod import bench


@pytest.mark.parametrize("n", range({n}))
async def test_row(db_session, n):
    await db_session.execute(insert(bench).values(v="x"))
    await db_session.flush()
"""
#: what a careful user writes by hand: SQLAlchemy's documented recipe, SQLite's fix included
HAND_CONFTEST = """
import os

import pytest
import pytest_asyncio
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from benchmod import metadata


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def engine():
    engine = create_async_engine(os.environ["BENCH_URL"])
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine.sync_engine, "connect")
        def _no_driver_transactions(dbapi_connection, record):
            dbapi_connection.isolation_level = None

        @event.listens_for(engine.sync_engine, "begin")
        def _begin(conn):
            conn.exec_driver_sql("BEGIN")
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def session(engine):
    async with engine.connect() as conn:
        outer = await conn.begin()
        session = AsyncSession(bind=conn, join_transaction_mode="create_savepoint")
        yield session
        await session.close()
        await outer.rollback()
"""
HAND_TEST = """
import pytest
from sqlalchemy import insert
from benchmod import bench

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.mark.parametrize("n", range({n}))
async def test_row(session, n):
    await session.execute(insert(bench).values(v="x"))
    await session.flush()
"""
PLAIN_TEST = """
import pytest


@pytest.mark.parametrize("n", range({n}))
async def test_row(n):
    pass
"""
KINDS = {"harness": HARNESS_TEST, "hand": HAND_TEST, "plain": PLAIN_TEST}


def suite_seconds(project: Path, args: list[str], env: dict[str, str]) -> float:
    junit = project / "junit.xml"
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
         f"--junitxml={junit}", *args],
        cwd=project, check=True, stdout=subprocess.DEVNULL, env={**os.environ, **env},
    )  # fmt: skip
    suite = ET.parse(junit).getroot()
    node = suite if suite.tag == "testsuite" else suite.find("testsuite")
    assert node is not None
    return float(node.get("time", "nan"))


def write_project(root: Path, kind: str, size: int) -> Path:
    project = root / f"{kind}_{size}"
    project.mkdir()
    (project / "benchmod.py").write_text(textwrap.dedent(BENCHMOD))
    (project / "pytest.ini").write_text(textwrap.dedent(INI))
    (project / "test_bench.py").write_text(textwrap.dedent(KINDS[kind]).format(n=size))
    if kind == "hand":
        (project / "conftest.py").write_text(textwrap.dedent(HAND_CONFTEST))
    return project


async def bare_cycle(url: object, backend: object, cycles: int) -> float:
    """(b): the cycle through SQLAlchemy alone, in a loop; median seconds."""
    engine = create_async_engine(url)  # type: ignore[call-overload]
    backend.prepare_engine(engine)  # type: ignore[attr-defined]
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    times = []
    try:
        for _ in range(cycles):
            start = time.perf_counter()
            async with engine.connect() as conn:
                outer = await conn.begin()
                session = AsyncSession(bind=conn, join_transaction_mode="create_savepoint")
                await session.execute(insert(bench).values(v="x"))
                await session.flush()
                await session.close()
                await outer.rollback()
            times.append(time.perf_counter() - start)
    finally:
        await engine.dispose()
    return statistics.median(times)


def measure_slopes(
    projects: dict[tuple[str, int], Path],
    args: argparse.Namespace,
    harness_args: list[str],
    env: dict[str, str],
) -> dict[str, float]:
    """Seconds per test of each kind: the median over the repeats of each repeat's slope.

    One repeat runs every kind at both sizes back to back, so whatever else the machine does
    at that moment (a server's checkpoint, another process) weighs on every column alike.
    """
    per_repeat: dict[str, list[float]] = {kind: [] for kind in KINDS}
    for _ in range(args.repeats):
        for kind in KINDS:
            extra = harness_args if kind == "harness" else ["-p", "no:harness"]
            small = suite_seconds(projects[kind, args.small], extra, env)
            large = suite_seconds(projects[kind, args.large], extra, env)
            per_repeat[kind].append((large - small) / (args.large - args.small))
    return {kind: statistics.median(values) for kind, values in per_repeat.items()}


def main() -> int:
    # As users run: Python caches bytecode (and pytest its rewritten modules) between runs.
    # A machine that sets PYTHONDONTWRITEBYTECODE would compile every module on every run.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backends", default="sqlite,postgresql,mysql")
    parser.add_argument("--small", type=int, default=50)
    parser.add_argument("--large", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--cycles", type=int, default=500)
    args = parser.parse_args()
    registry = default_registry()
    config = resolve(
        Sources(
            cli={"harness_backends": args.backends, "harness_launcher": "local"},
            env={},
            ini=lambda key: None,
        ),
        backends=list(registry.backends),
        launchers=registry.launcher_names(),
    )
    run = HarnessRun(config, registry, progress=lambda line: None, rootdir=Path.cwd())
    rows = []
    try:
        run.ensure(config.backends)
        with tempfile.TemporaryDirectory(prefix="harness-bench-") as tmp:
            root = Path(tmp)
            projects = {
                (kind, size): write_project(root, kind, size)
                for kind in KINDS
                for size in (args.small, args.large)
            }
            for name in config.backends:
                provisioned = run.get(name)
                url = provisioned.url.render_as_string(hide_password=False)
                harness_args = [f"--harness-backends={name}"]
                env = {"BENCH_URL": url}
                if provisioned.server is not None:
                    server_url = provisioned.server.url.render_as_string(hide_password=False)
                    env[f"HARNESS_{name.upper()}_URL"] = server_url
                    harness_args.append("--harness-launcher=external")
                else:
                    env["BENCH_URL"] = f"sqlite+aiosqlite:///{root / 'hand.sqlite3'}"
                slopes = measure_slopes(projects, args, harness_args, env)
                bare = asyncio.run(bare_cycle(provisioned.url, provisioned.backend, args.cycles))
                rows.append((name, slopes, bare))
    finally:
        run.close()
    print(
        f"per-test ms: slope between {args.small} and {args.large} tests (median of "
        f"{args.repeats} interleaved rounds), minus the fixture-less test's slope; "
        f"(b) median of {args.cycles}"
    )
    print(
        f"{'backend':<11}{'harness':>9}{'hand':>9}{'(b) SA':>9}{'plain':>8}"
        f"{'h/hand':>8}{'h/(b)':>7}"
    )
    for name, slopes, bare in rows:
        harness = (slopes["harness"] - slopes["plain"]) * 1000
        hand = (slopes["hand"] - slopes["plain"]) * 1000
        print(
            f"{name:<11}{harness:9.3f}{hand:9.3f}{bare * 1000:9.3f}{slopes['plain'] * 1000:8.3f}"
            f"{harness / hand:8.2f}{harness / (bare * 1000):7.2f}"
        )
    print("targets: h/hand <= 1.00 and h/(b) <= 1.25")
    return 0


if __name__ == "__main__":
    sys.exit(main())
