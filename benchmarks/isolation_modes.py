"""Benchmark: what a transactional test (harness_isolation("commit")) costs against a
savepoint test, per backend.

Both suites' tests insert a row through ``db_session`` and commit it; one suite is marked
``@pytest.mark.harness_isolation("commit")``, so its commits are real and the table is
emptied (its counter restarted) after each test. The per-test cost is the slope of
pytest's whole in-process suite time (JUnit XML: collection, hooks, fixtures, reporting)
between a small and a large suite, median of R runs: fixed costs (server start,
migrations) drop out. Timings are never asserted anywhere.

Usage: python benchmarks/isolation_modes.py [--backends sqlite,postgresql,mysql]
       [--small 40] [--large 240] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from query_recorder import suite_seconds  # the benchmarks folder is not a package

INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
harness_metadata = bench_models:metadata
"""
MODELS = """
from sqlalchemy import Column, Integer, MetaData, String, Table

metadata = MetaData()
items = Table(
    "items", metadata, Column("id", Integer, primary_key=True), Column("name", String(20))
)
"""
SUITE = """
import pytest
from sqlalchemy import insert

from bench_models import items

{mark}
@pytest.mark.parametrize("n", range({n}))
async def test_row(db_session, n):
    await db_session.execute(insert(items).values(name="x"))
    await db_session.commit()
"""
MARKS = {"savepoint": "", "commit": '@pytest.mark.harness_isolation("commit")'}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backends", default="sqlite,postgresql,mysql")
    parser.add_argument("--small", type=int, default=40)
    parser.add_argument("--large", type=int, default=240)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="harness-bench-") as tmp:
        project = Path(tmp)
        (project / "pytest.ini").write_text(textwrap.dedent(INI))
        (project / "bench_models.py").write_text(textwrap.dedent(MODELS))
        for mode, mark in MARKS.items():
            for size in (args.small, args.large):
                source = textwrap.dedent(SUITE).format(mark=mark, n=size)
                (project / f"test_{mode}_{size}.py").write_text(source)
        print(
            f"per-test ms: slope of the suite time between {args.small} and {args.large} "
            f"tests, median of {args.repeats} runs"
        )
        print(f"{'backend':12} {'savepoint':>10} {'commit':>8} {'ratio':>6}")
        for backend in args.backends.split(","):
            slopes = {}
            for mode in MARKS:
                small, large = [], []
                for _ in range(args.repeats):
                    small.append(suite_seconds(project, f"test_{mode}_{args.small}.py", backend))
                    large.append(suite_seconds(project, f"test_{mode}_{args.large}.py", backend))
                extra = statistics.median(large) - statistics.median(small)
                slopes[mode] = extra / (args.large - args.small) * 1000
            s, c = slopes["savepoint"], slopes["commit"]
            print(f"{backend:12} {s:10.2f} {c:8.2f} {c / s:5.1f}x")


if __name__ == "__main__":
    main()
