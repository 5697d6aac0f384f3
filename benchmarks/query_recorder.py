"""Benchmark: what recording queries (db_queries) adds to a test, per backend.

Two generated suites of N tests each send the same statements through db_session (five
SELECTs and one INSERT); one suite also requests db_queries and counts inside a block.
Each suite runs R times in a pytest subprocess; the figure is the median of pytest's own
suite time (JUnit XML), per test. Timings are never asserted anywhere.

Usage: python benchmarks/query_recorder.py [--backends sqlite,postgresql,mysql] [--tests 300]
       [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

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
BODY = """
from sqlalchemy import insert, select

from bench_models import items


async def work(session):
    await session.execute(insert(items).values(name="x"))
    for _ in range(5):
        await session.execute(select(items.c.id))
"""
PLAIN = """
@pytest.mark.parametrize("n", range({n}))
async def test_plain(db_session, n):
    await work(db_session)
"""
RECORDED = """
@pytest.mark.parametrize("n", range({n}))
async def test_recorded(db_session, db_queries, n):
    with db_queries.exactly(6):
        await work(db_session)
"""


def suite_seconds(project: Path, test_file: str, backend: str) -> float:
    junit = project / "junit.xml"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            test_file,
            f"--harness-backends={backend}",
            f"--junitxml={junit}",
        ],
        cwd=project,
        check=True,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(project)},
    )
    suite = ET.parse(junit).getroot()
    node = suite if suite.tag == "testsuite" else suite.find("testsuite")
    assert node is not None
    return float(node.get("time", "nan"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backends", default="sqlite,postgresql,mysql")
    parser.add_argument("--tests", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="harness-bench-") as tmp:
        project = Path(tmp)
        (project / "pytest.ini").write_text(textwrap.dedent(INI))
        (project / "bench_models.py").write_text(textwrap.dedent(MODELS))
        head = "import pytest\n" + textwrap.dedent(BODY)
        (project / "test_plain.py").write_text(head + PLAIN.format(n=args.tests))
        (project / "test_recorded.py").write_text(head + RECORDED.format(n=args.tests))
        print(
            f"per-test ms, median of {args.repeats} runs of {args.tests} tests (6 statements each)"
        )
        print(f"{'backend':12} {'plain':>8} {'recorded':>9} {'overhead':>9}")
        for backend in args.backends.split(","):
            plain, recorded = [], []
            for _ in range(args.repeats):
                plain.append(suite_seconds(project, "test_plain.py", backend))
                recorded.append(suite_seconds(project, "test_recorded.py", backend))
            p = statistics.median(plain) / args.tests * 1000
            r = statistics.median(recorded) / args.tests * 1000
            print(f"{backend:12} {p:8.3f} {r:9.3f} {100 * (r - p) / p:8.1f}%")


if __name__ == "__main__":
    main()
