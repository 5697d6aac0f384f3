"""Benchmark: Hypothesis examples per second per backend, with and without per-example isolation.

One pytest run (in a temporary project, every backend at once) of four ``@given`` tests,
each given the same fixed number of examples:

  no db     a test that uses no database fixture: Hypothesis and pytest-asyncio alone
  shared    ``db_session``, one INSERT per example, marked ``harness_examples(isolate=False)``:
            the examples share the test's transaction (rows pile up)
  isolated  the same test with the harness's per-example isolation (a SAVEPOINT per example,
            rolled back after it, and the session reset)
  commit    isolated, and each example also commits, as code under test does

For each, the test's wall time (the pytest call phase: all its examples) divided by the
examples it ran. The isolation cost is isolated minus shared, per example.

Usage: python benchmarks/hypothesis_examples.py [--backends all] [--launcher local]
       [--examples 300] [--repeat 3]
Prints a table; timings are never asserted anywhere.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

KINDS = ("no_db", "shared", "isolated", "commit")

CONFTEST = """
import json, os, time
import pytest

pytest_plugins = ["harness.hypothesis"]  # a no-op once harness.plugin loads it itself

CALLS = {}
EXAMPLES = {}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    start = time.perf_counter()
    try:
        return (yield)
    finally:
        CALLS[item.nodeid] = time.perf_counter() - start


def pytest_sessionfinish(session):
    import test_bench

    with open(os.environ["BENCH_OUT"], "w") as f:
        json.dump({"calls": CALLS, "examples": test_bench.EXAMPLES}, f)
"""

BENCHMOD = """
from sqlalchemy import Column, Integer, MetaData, String, Table
metadata = MetaData()
bench = Table(
    "bench_rows", metadata, Column("id", Integer, primary_key=True), Column("v", String(20))
)
"""

TESTS = """
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import insert
from benchmod import bench

EXAMPLES = {{}}
FIXED = settings(
    max_examples={examples}, derandomize=True, database=None, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
values = st.integers(min_value=0, max_value=10**9)


def seen(kind, backend, repeat):
    key = f"{{kind}}[{{backend}}][{{repeat}}]"
    EXAMPLES[key] = EXAMPLES.get(key, 0) + 1


@pytest.mark.parametrize("repeat", range({repeat}))
@FIXED
@given(v=values)
async def test_no_db(db_backend, repeat, v):
    seen("no_db", db_backend.name, repeat)


@pytest.mark.parametrize("repeat", range({repeat}))
@pytest.mark.harness_examples(isolate=False)
@settings(FIXED, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(v=values)
async def test_shared(db_session, db_backend, repeat, v):
    await db_session.execute(insert(bench).values(v=str(v)))
    seen("shared", db_backend.name, repeat)


@pytest.mark.parametrize("repeat", range({repeat}))
@FIXED
@given(v=values)
async def test_isolated(db_session, db_backend, repeat, v):
    await db_session.execute(insert(bench).values(v=str(v)))
    seen("isolated", db_backend.name, repeat)


@pytest.mark.parametrize("repeat", range({repeat}))
@FIXED
@given(v=values)
async def test_commit(db_session, db_backend, repeat, v):
    await db_session.execute(insert(bench).values(v=str(v)))
    await db_session.commit()
    seen("commit", db_backend.name, repeat)
"""


def run(backends: str, launcher: str, examples: int, repeat: int) -> dict[str, dict[str, float]]:
    """{backend: {kind: examples per second}} (the median over the repeats)."""
    with tempfile.TemporaryDirectory(prefix="harness-bench-hypothesis-") as tmp:
        project = Path(tmp)
        (project / "conftest.py").write_text(textwrap.dedent(CONFTEST))
        (project / "benchmod.py").write_text(textwrap.dedent(BENCHMOD))
        (project / "test_bench.py").write_text(
            textwrap.dedent(TESTS.format(examples=examples, repeat=repeat))
        )
        (project / "pytest.ini").write_text(
            "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
            "harness_metadata = benchmod:metadata\n"
        )
        out = project / "result.json"
        env = {**os.environ, "BENCH_OUT": str(out), "PYTHONPATH": str(project)}
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                f"--harness-backends={backends}",
                f"--harness-launcher={launcher}",
                str(project),
            ],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            sys.exit(f"the benchmark's pytest run failed:\n{done.stdout}{done.stderr}")
        result = json.loads(out.read_text())
    rates: dict[str, dict[str, list[float]]] = {}
    for nodeid, seconds in result["calls"].items():
        # test_bench.py::test_isolated[sqlite-0]
        kind = nodeid.split("::test_")[1].split("[")[0]
        backend, index = nodeid.split("[")[1].rstrip("]").rsplit("-", 1)
        count = result["examples"].get(f"{kind}[{backend}][{index}]", 0)
        rates.setdefault(backend, {}).setdefault(kind, []).append(count / seconds)
    return {
        backend: {kind: statistics.median(values) for kind, values in kinds.items()}
        for backend, kinds in rates.items()
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backends", default="all")
    parser.add_argument("--launcher", default="local")
    parser.add_argument("--examples", type=int, default=300, help="examples per test")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each test (median)")
    args = parser.parse_args()

    rates = run(args.backends, args.launcher, args.examples, args.repeat)
    print()
    print(
        f"Hypothesis examples per second ({args.examples} examples a test, median of "
        f"{args.repeat}); cost = ms per example over 'shared'"
    )
    header = f"{'backend':<11}" + "".join(f"{kind:>10}" for kind in KINDS)
    print(header + f"{'iso cost':>10}{'commit cost':>12}")
    for backend in sorted(rates, key=lambda b: ["sqlite", "postgresql", "mysql"].index(b)):
        row = rates[backend]
        shared = 1000 / row["shared"]
        cells = "".join(f"{row[kind]:>10.0f}" for kind in KINDS)
        print(
            f"{backend:<11}{cells}{1000 / row['isolated'] - shared:>10.2f}"
            f"{1000 / row['commit'] - shared:>12.2f}"
        )
    print("no db: Hypothesis + pytest-asyncio alone; shared: one INSERT per example, no")
    print("isolation; isolated: the same inside a per-example SAVEPOINT; commit: and a commit.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
