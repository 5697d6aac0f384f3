"""The reference app's own migrations pass every check, on every backend this run selected."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from harness.plugin import RUN_KEY
from tests.migrations.conftest import AlembicProject

REPO = Path(__file__).resolve().parents[2]


def test_the_reference_app_passes_every_migration_check(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
    backend: str,
):
    # As an adopting project configures it, but pointing at this repo's files.
    pytester.makeini(
        textwrap.dedent(
            f"""
            [pytest]
            asyncio_default_fixture_loop_scope = function
            filterwarnings =
                error
                ignore:Module already imported:pytest.PytestAssertRewriteWarning
            harness_alembic_ini = {REPO / "alembic.ini"}
            harness_metadata = app_under_test.models:Base.metadata
            """
        )
    )
    project = AlembicProject(pytester, monkeypatch, request.config.stash[RUN_KEY])
    result = project.run(backend, "--harness-migration-checks", "-v")
    result.stdout.fnmatch_lines(
        [
            "harness-migrations::single_head PASSED*",
            f"harness-migrations::upgrade_base_to_head?{backend}? PASSED*",
            f"harness-migrations::stairway?{backend}? PASSED*",
            f"harness-migrations::model_matches_schema?{backend}? PASSED*",
        ]
    )
    result.assert_outcomes(passed=4)
