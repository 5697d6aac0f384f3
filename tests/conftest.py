"""Shared by the test folders: a small adopting project, written into pytester's temp dir."""

from __future__ import annotations

import os
import textwrap

import pytest

# Imported here, before any in-process pytester run: pytester drops the modules an inner run
# imported when it ends, and a second inner run would then mix a fresh SQLAlchemy with the
# engines and event classes the harness kept from the first ("No such event 'commit'"). Seen
# when a folder that imports no SQLAlchemy itself (tests/plugin) runs alone. The dialects
# too: one imported again registers its SQL functions again, which SQLAlchemy warns about
# ("The GenericFunction '_regconfig_fn' is already registered"), an error in this suite.
import sqlalchemy.dialects.mysql
import sqlalchemy.dialects.postgresql
import sqlalchemy.dialects.sqlite
import sqlalchemy.ext.asyncio  # noqa: F401

from tests.projects import APP

INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
filterwarnings =
    error
    # Started as the bare `pytest` script, the outer run has already imported these.
    ignore:Module already imported:pytest.PytestAssertRewriteWarning
harness_app = myapp:app
harness_session_dependency = myapp:get_session
harness_metadata = myapp:metadata
"""

# A second embedded backend, registered the way a third party would: proves the extension
# hook and gives multi-backend runs without a server.
SECOND_BACKEND = """
from harness.backends.sqlite import SQLiteBackend


class OtherSQLite(SQLiteBackend):
    name = "sqlite2"

    def embedded_url(self, directory):
        return super().embedded_url(directory).set(database=str(directory / "other.sqlite3"))


def pytest_harness_register(registry):
    registry.register(OtherSQLite())
"""


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """An adopting project: an app module and a pytest.ini configuring the harness."""
    # The outer run's own settings (tox sets some) must not leak into the inner runs.
    for name in list(os.environ):
        if name.startswith("HARNESS_"):
            monkeypatch.delenv(name)
    pytester.makepyfile(myapp=textwrap.dedent(APP))
    pytester.makefile(".ini", pytest=textwrap.dedent(INI))
    pytester.syspathinsert()
    return pytester


@pytest.fixture
def two_backends(project: pytest.Pytester) -> pytest.Pytester:
    project.makeconftest(SECOND_BACKEND)
    return project
