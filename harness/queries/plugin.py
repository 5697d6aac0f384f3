"""The pytest side of query counts: the ``harness_max_queries`` marker and the N+1 report."""

from __future__ import annotations

import warnings
from collections.abc import Generator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from harness.queries.recorder import QueryRecorder


MAX_QUERIES_MARKER = "harness_max_queries"
#: the recorder of a test that records (db_queries, the marker, or the N+1 report)
RECORDER_KEY = pytest.StashKey["QueryRecorder"]()
#: the backend a recording test runs on
BACKEND_KEY = pytest.StashKey[str]()


class NPlusOneWarning(pytest.PytestWarning):
    """A statement was sent more times in one request than ``harness_nplusone_threshold``."""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MAX_QUERIES_MARKER}(n, **per_backend): the test's code may send at most n "
        "statements (transaction control left out); e.g. harness_max_queries(3, mysql=4)",
    )


def wants_recording(node: pytest.Item, nplusone: str) -> bool:
    return nplusone != "off" or node.get_closest_marker(MAX_QUERIES_MARKER) is not None


def _check_marker(item: pytest.Item, recorder: QueryRecorder) -> None:
    from harness.queries.report import describe

    __tracebackhide__ = True
    marker = item.get_closest_marker(MAX_QUERIES_MARKER)
    if marker is None:
        return
    if len(marker.args) != 1 or not isinstance(marker.args[0], int):
        raise pytest.UsageError(
            f"{item.nodeid}: @pytest.mark.{MAX_QUERIES_MARKER} takes one number (and per-backend "
            f"keywords), e.g. @pytest.mark.{MAX_QUERIES_MARKER}(3, mysql=4)"
        )
    backend = item.stash.get(BACKEND_KEY, "")
    limit = int(marker.kwargs.get(backend, marker.args[0]))
    sent = recorder.statements
    if len(sent) > limit:
        lines = [
            f"harness: @{MAX_QUERIES_MARKER}({limit}) on {backend}: the code under test sent "
            f"{len(sent)} statements:",
            *describe(sent),
        ]
        pytest.fail("\n".join(lines), pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    recorder = item.stash.get(RECORDER_KEY, None)
    if recorder is None:
        return (yield)
    from harness.queries.report import nplusone_message, repeated

    # What fixtures send to set the test up is not the code under test's work.
    recorder.active += 1
    try:
        result = yield
    finally:
        recorder.active -= 1
    _check_marker(item, recorder)
    from harness.plugin import RUN_KEY  # not at import: harness.plugin loads this module

    run_config = item.config.stash[RUN_KEY].config
    if run_config.nplusone != "off":
        found = repeated(recorder.statements, run_config.nplusone_threshold)
        if found:
            message = nplusone_message(found, run_config.nplusone_threshold)
            if run_config.nplusone == "fail":
                pytest.fail(message, pytrace=False)
            warnings.warn(NPlusOneWarning(message), stacklevel=1)
    return result
