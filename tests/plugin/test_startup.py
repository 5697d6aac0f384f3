"""A run that uses no harness fixture pays nothing for the parts it does not use."""

from __future__ import annotations

import pytest

PROBE = """
import sys


def test_probe():
    heavy = sorted(m for m in ("hypothesis", "sqlalchemy") if m in sys.modules)
    print("HEAVY", heavy)
"""


def test_no_hypothesis_and_no_sqlalchemy_before_a_plain_test(project: pytest.Pytester) -> None:
    project.makepyfile(test_plain=PROBE)
    # A fresh interpreter: the outer run has imported both already.
    result = project.runpytest_subprocess("-s", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*HEAVY []"])


def test_a_hypothesis_test_still_gets_the_harness_profile(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_prop="""
        from hypothesis import given, settings, strategies as st


        @given(st.integers())
        def test_profile(x):
            assert settings.get_current_profile_name() == "harness-ci"
            assert settings.default.derandomize
        """
    )
    result = project.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
