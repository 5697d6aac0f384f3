"""The pytest hooks of the Hypothesis support; ``harness.plugin`` loads them when installed."""

from __future__ import annotations

from collections.abc import Generator

import pytest

from harness.hypothesis.examples import isolated_examples
from harness.hypothesis.profiles import select_default_profile


def pytest_configure(config: pytest.Config) -> None:
    # The marker (harness_examples) is registered by harness.plugin, which loads this module
    # when Hypothesis is first imported (see harness.hypothesis.lazy).
    select_default_profile(config)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    __tracebackhide__ = True
    with isolated_examples(item):
        return (yield)
