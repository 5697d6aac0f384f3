"""The pytest hooks of the Hypothesis support; ``harness.plugin`` loads them when installed."""

from __future__ import annotations

from collections.abc import Generator

import pytest

from harness.hypothesis.examples import MARKER, isolated_examples
from harness.hypothesis.profiles import select_default_profile


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(isolate=True): isolate=False lets the examples of this @given test share "
        "database state (no per-example savepoint)",
    )
    select_default_profile(config)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    __tracebackhide__ = True
    with isolated_examples(item):
        return (yield)
