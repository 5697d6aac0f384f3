"""Adopting projects of several shapes, each run by pytester on one of this run's backends."""

from __future__ import annotations

import dataclasses
import os
import sys
import textwrap

import pytest

from harness.plugin import RUN_KEY
from harness.run.state import BackendInfo, HarnessRun

INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
filterwarnings =
    error
    # Started as the bare `pytest` script, the outer run has already imported these.
    ignore:Module already imported:pytest.PytestAssertRewriteWarning
harness_app = shapeapp:app
harness_metadata = shapeapp:metadata
"""


@dataclasses.dataclass
class Shape:
    """One adopting project: ``shapeapp.py``, a pytest.ini, tests; run on one backend."""

    pytester: pytest.Pytester
    monkeypatch: pytest.MonkeyPatch
    outer: HarnessRun
    backend: str

    @property
    def own_database(self) -> str:
        """Where the app's own settings point: a file in the project nothing may create."""
        return str(self.pytester.path / "own.sqlite3")

    def write(self, app: str | tuple[str, ...], tests: str, *, ini_lines: str = "") -> None:
        """Write the app (parts dedented one by one), the tests and the ini."""
        own_url = f"sqlite+aiosqlite:///{self.own_database}"
        parts = (app,) if isinstance(app, str) else app
        source = "\n".join(textwrap.dedent(part) for part in parts)
        self.pytester.makepyfile(shapeapp=source.replace("OWN_URL", repr(own_url)))
        self.pytester.makefile(".ini", pytest=textwrap.dedent(INI) + textwrap.dedent(ini_lines))
        self.pytester.makepyfile(test_shape=textwrap.dedent(tests))

    def run(self, *args: str) -> pytest.RunResult:
        # Each test writes its own shapeapp.py: never let an earlier one answer the import.
        self.monkeypatch.delitem(sys.modules, "shapeapp", raising=False)
        options = [f"--harness-backends={self.backend}", "-p", "no:cacheprovider"]
        server = self.outer.get(self.backend).server
        if server is not None:
            # By environment rather than argv: nothing prints it.
            url = server.url.render_as_string(hide_password=False)
            self.monkeypatch.setenv(f"HARNESS_{self.backend.upper()}_URL", url)
            options.append("--harness-launcher=external")
        result = self.pytester.runpytest(*options, *args)
        assert not os.path.exists(self.own_database), "the app reached its own database"
        return result


@pytest.fixture
def shape(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
    db_backend: BackendInfo,
) -> Shape:
    for name in list(os.environ):
        if name.startswith("HARNESS_") or name == "DATABASE_URL":
            monkeypatch.delenv(name)
    pytester.syspathinsert()
    return Shape(pytester, monkeypatch, request.config.stash[RUN_KEY], db_backend.name)
