"""Tests of the harness's Hypothesis support, and a small adopting project for pytester."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator

import pytest
from hypothesis import settings

from tests.projects import APP


def pytest_configure(config: pytest.Config) -> None:
    # harness.plugin loads this module when Hypothesis is installed; loading it again is a
    # no-op, and keeps these tests meaningful if it ever stops doing so.
    config.pluginmanager.import_plugin("harness.hypothesis.plugin")


INI = """
[pytest]
addopts = --strict-markers
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
filterwarnings =
    error
    # Hypothesis reports a failure with libcst, which uses a deprecated mypy_extensions API.
    ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning
    # Started as the bare `pytest` script, the outer run has already imported the harness.
    ignore:Module already imported:pytest.PytestAssertRewriteWarning
harness_app = myapp:app
harness_session_dependency = myapp:get_session
harness_metadata = myapp:metadata
"""

# What the project's conftest needs while harness.plugin does not load the module itself.
CONFTEST = """
pytest_plugins = ["harness.hypothesis"]
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """An adopting project: a FastAPI app with a unique column, configured for the harness."""
    pytester.makepyfile(myapp=textwrap.dedent(APP))
    pytester.makefile(".ini", pytest=textwrap.dedent(INI))
    pytester.makeconftest(CONFTEST)
    pytester.syspathinsert()
    return pytester


@pytest.fixture(autouse=True)
def _keep_hypothesis_profile() -> Iterator[None]:
    """An in-process pytester run may load another profile: restore ours after it."""
    name = settings.get_current_profile_name()
    yield
    settings.load_profile(name)
