"""Benchmark: what the plugin adds to a pytest run that uses none of its fixtures.

One fixture-less test in a temp project, run with the plugin and with ``-p no:harness``,
alternately, N times each; prints the medians and the difference, and whether Hypothesis
was imported before the test ran. Timings are never asserted anywhere.

Usage: python benchmarks/startup.py [--runs 9]
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

TEST = """
import sys


def test_nothing():
    print("hypothesis imported:", "hypothesis" in sys.modules)
"""


def run_once(project: Path, *extra: str) -> tuple[float, str]:
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", *extra],
        cwd=project,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return time.perf_counter() - started, out


def main() -> None:
    # As users run: Python caches bytecode (and pytest its rewritten modules) between runs.
    # A machine that sets PYTHONDONTWRITEBYTECODE would compile every module on every run.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="harness-startup-") as tmp:
        project = Path(tmp)
        (project / "pytest.ini").write_text(
            "[pytest]\nasyncio_default_fixture_loop_scope = function\n"
        )
        (project / "test_nothing.py").write_text(TEST)
        with_plugin, without = [], []
        imported = ""
        for _ in range(args.runs):
            seconds, out = run_once(project)
            with_plugin.append(seconds)
            imported = ("hypothesis imported: True" in out and "yes") or "no"
            without.append(run_once(project, "-p", "no:harness")[0])
        on, off = statistics.median(with_plugin), statistics.median(without)
        print(f"one fixture-less test, median of {args.runs} runs each")
        print(f"  with the plugin:    {on:.3f} s")
        print(f"  -p no:harness:      {off:.3f} s")
        print(f"  added by the plugin: {on - off:+.3f} s")
        print(f"  Hypothesis imported before the test (with the plugin): {imported}")


if __name__ == "__main__":
    main()
