"""Benchmark: what ``--harness-reuse`` saves at the start of a run, per server backend.

A one-test project whose test uses ``db_session``, run as a whole pytest process (wall time,
start to exit) in seven ways, N times each, per backend:

- cold: without the flag (a server started and the database migrated, everything removed);
- cold, flag: with the flag and nothing kept (the first run: it starts and keeps);
- warm: with the flag again (the kept server and template are reused);
- external URL: the database on a server given with ``--harness-url`` (started once here);
- hand-written: the same test on a conftest.py of one's own (engine, outer transaction,
  savepoint session) against the already running server, ``-p no:harness``: what a run costs
  without the harness when a server is up anyway;
- pytest alone: the same project, its test without database fixtures, ``-p no:harness``;
- alone + imports: the same, its test module importing what the app's would anyway
  (SQLAlchemy's asyncio extension and the driver), still without a database.

Each is timed twice: the whole run (start to exit, what a user waits for) and to the first
test (start to the test body's first line, what the issue's target names). Prints the
medians; "warm - alone" is what a reused run costs over pytest itself, "warm - imports" what
it costs over pytest importing the same libraries (the server, the database and the harness),
and "warm - hand" over the hand-written conftest on a running server. Everything kept is
dropped at the end. Timings are never asserted anywhere.

Usage: python benchmarks/reuse.py [--runs 5] [--backends postgresql,mysql]
       [--launcher local|containers]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

INI = """[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
harness_metadata = models:metadata
"""

MODELS = """
from sqlalchemy import Column, Integer, MetaData, String, Table

metadata = MetaData()
items = Table(
    "items", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(50), unique=True, nullable=False),
)
"""

#: each test's first line notes the time (the wall clock: it is compared across processes)
MARK = """
import os
import time


def mark():
    with open(os.environ["BENCH_MARK"], "w") as f:
        f.write(repr(time.time()))
"""

TEST = """
from mark import mark
from sqlalchemy import insert


async def test_one(db_session):
    mark()
    await db_session.execute(insert(__import__("models").items).values(name="x"))
"""

ALONE = """
from mark import mark


def test_one():
    mark()
"""

#: the app's imports, without a database: SQLAlchemy's asyncio extension and the driver
ALONE_IMPORTS = """
import sqlalchemy.ext.asyncio
import {driver}
from mark import mark


def test_one():
    mark()
"""

DRIVERS = {"postgresql": "asyncpg", "mysql": "aiomysql"}
KINDS = ("cold", "cold+flag", "warm", "url", "hand", "alone", "imports")


def wall(project: Path, *args: str, env: dict[str, str] | None = None) -> tuple[float, float]:
    """The whole run's wall time and the time to its test's first line (s)."""
    noted = project / ".mark"
    noted.unlink(missing_ok=True)
    started = time.time()
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=project,
        check=True,
        capture_output=True,
        env={**os.environ, **(env or {}), "BENCH_MARK": str(noted)},
    )
    whole = time.time() - started
    first = float(noted.read_text()) - started if noted.exists() else float("nan")
    return whole, first


def drop(project: Path) -> None:
    wall(project, "--harness-reuse-drop", "--collect-only")


HAND_CONFTEST = """
import os

import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from models import metadata


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def engine():
    engine = create_async_engine(os.environ["BENCH_URL"])
    async with engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)
        await conn.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def session(engine):
    async with engine.connect() as conn:
        outer = await conn.begin()
        yield AsyncSession(bind=conn, join_transaction_mode="create_savepoint")
        await outer.rollback()
"""

HAND_TEST = """
import pytest
from mark import mark
from sqlalchemy import insert

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_one(session):
    mark()
    await session.execute(insert(__import__("models").items).values(name="x"))
"""


def measure(
    project: Path, alone: Path, backend: str, runs: int, url: str, launcher: str
) -> dict[str, tuple[float, float]]:
    """Per kind of run, the medians of the whole run's and the first test's times."""
    chosen = f"--harness-backends={backend}", f"--harness-launcher={launcher}"
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in KINDS}
    hand, imports = alone.parent / "hand", alone.parent / "imports"
    (imports / "test_one.py").write_text(ALONE_IMPORTS.format(driver=DRIVERS[backend]))
    from sqlalchemy.engine import make_url

    hand_url = make_url(url).set(database="bench_hand").render_as_string(hide_password=False)
    drop(project)
    for _ in range(runs):
        times["cold"].append(wall(project, *chosen))
        times["cold+flag"].append(wall(project, *chosen, "--harness-reuse"))
        times["warm"].append(wall(project, *chosen, "--harness-reuse"))
        drop(project)
        times["url"].append(
            wall(
                project,
                chosen[0],
                "--harness-launcher=external",
                f"--harness-url={backend}={url}",
            )
        )
        times["hand"].append(wall(hand, "-p", "no:harness", env={"BENCH_URL": hand_url}))
        times["alone"].append(wall(alone, "-p", "no:harness"))
        times["imports"].append(wall(imports, "-p", "no:harness"))
    return {
        k: (statistics.median(w for w, _ in v), statistics.median(f for _, f in v))
        for k, v in times.items()
    }


def main() -> None:
    # As users run: Python caches bytecode (and pytest its rewritten modules) between runs.
    # A machine that sets PYTHONDONTWRITEBYTECODE would compile every module on every run.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--backends", default="postgresql,mysql")
    parser.add_argument(
        "--launcher",
        default="local",
        help="the launcher of the cold and warm runs: local, or containers (under "
        "scripts/docker-lane --command, which sets the images); the url and hand-written "
        "columns use a local server either way",
    )
    args = parser.parse_args()
    from harness.builtins import default_registry
    from harness.launchers.base import LaunchContext

    registry = default_registry()
    results = {}
    with tempfile.TemporaryDirectory(prefix="harness-reuse-") as tmp:
        project, alone = Path(tmp) / "project", Path(tmp) / "alone"
        hand, imports = Path(tmp) / "hand", Path(tmp) / "imports"
        for path, test in ((project, TEST), (alone, ALONE), (hand, HAND_TEST), (imports, "")):
            path.mkdir()
            (path / "pytest.ini").write_text(INI if path == project else "[pytest]\n")
            (path / "models.py").write_text(MODELS)
            (path / "mark.py").write_text(MARK)
            (path / "test_one.py").write_text(test)
        (hand / "conftest.py").write_text(HAND_CONFTEST)
        for backend in args.backends.split(","):
            launcher = registry.launcher("local", backend)
            assert launcher is not None
            ctx = LaunchContext(
                workdir=Path(tmp), options={}, progress=lambda line: None, run_id="bench"
            )
            server = launcher.start(registry.backend(backend), ctx)
            try:
                url = server.url.render_as_string(hide_password=False)
                _create_database(server.url, "bench_hand")
                results[backend] = measure(project, alone, backend, args.runs, url, args.launcher)
            finally:
                server.stop()
                drop(project)
    print(
        f"one test using db_session; median wall time of {args.runs} runs (s); "
        f"cold and warm via the {args.launcher} launcher"
    )
    for title, at in (("whole run", 0), ("to the first test", 1)):
        print(f"\n{title}")
        print(
            f"{'backend':<12}"
            + "".join(f"{h:>10}" for h in KINDS)
            + f"{'warm-alone':>12}{'warm-imports':>14}{'warm-hand':>11}"
        )
        for backend, row in results.items():
            cells = "".join(f"{row[h][at]:>10.3f}" for h in KINDS)
            warm = row["warm"][at]
            print(
                f"{backend:<12}{cells}{warm - row['alone'][at]:>+12.3f}"
                f"{warm - row['imports'][at]:>+14.3f}{warm - row['hand'][at]:>+11.3f}"
            )


def _create_database(url: object, name: str) -> None:
    from harness.run.provision import _run, _with_admin

    async def create(conn: object) -> None:
        from sqlalchemy import text

        await conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))  # type: ignore[attr-defined]
        await conn.execute(text(f"CREATE DATABASE {name}"))  # type: ignore[attr-defined]

    _run(lambda: _with_admin(url, create))  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
