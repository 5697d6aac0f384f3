"""The migration checks as test items: the switch, their ids, selection, and their own databases."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import textwrap

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from harness.migrations.checks import DATABASE_CHECKS
from harness.run.workdir import host_tag
from tests.migrations.conftest import AlembicProject

USER_TEST = """
def test_plain():
    pass
"""


def test_ids_one_head_check_then_three_per_backend_before_the_tests(project: AlembicProject):
    project.pytester.makepyfile(test_user=USER_TEST)
    # Collecting starts no server: every backend's ids show without one.
    result = project.pytester.runpytest(
        "--co", "-q", "--harness-backends=all", "--harness-migration-checks"
    )
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "harness-migrations::single_head",
            "harness-migrations::upgrade_base_to_head[[]sqlite[]]",
            "harness-migrations::stairway[[]sqlite[]]",
            "harness-migrations::model_matches_schema[[]sqlite[]]",
            "harness-migrations::upgrade_base_to_head[[]postgresql[]]",
            "harness-migrations::stairway[[]postgresql[]]",
            "harness-migrations::model_matches_schema[[]postgresql[]]",
            "harness-migrations::upgrade_base_to_head[[]mysql[]]",
            "harness-migrations::stairway[[]mysql[]]",
            "harness-migrations::model_matches_schema[[]mysql[]]",
            "test_user.py::test_plain",
        ],
        consecutive=True,
    )
    result.stdout.fnmatch_lines(["11 tests collected*"])


def test_off_by_default(project: AlembicProject):
    project.pytester.makepyfile(test_user=USER_TEST)
    result = project.run("sqlite", "-v")
    result.assert_outcomes(passed=1)
    assert "harness-migrations" not in result.stdout.str()


@pytest.mark.parametrize(
    ("how", "origin"),
    [
        ("cli", "--harness-migration-checks"),
        ("env", "env HARNESS_MIGRATION_CHECKS"),
        ("ini", "ini harness_migration_checks"),
    ],
)
def test_turned_on_by_option_environment_or_ini(project: AlembicProject, how: str, origin: str):
    args: list[str] = []
    if how == "cli":
        args.append("--harness-migration-checks")
    elif how == "env":
        project.monkeypatch.setenv("HARNESS_MIGRATION_CHECKS", "1")
    else:
        project.add_to_ini("harness_migration_checks = true")
    result = project.pytester.runpytest(
        "-p", "no:cacheprovider", "--harness-backends=sqlite", *args
    )
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(
        [
            f"harness: migration checks on ({origin}): alembic.ini; models models:metadata; "
            "each in a scratch database of its own"
        ]
    )


def test_without_an_alembic_ini_it_is_a_usage_error(pytester: pytest.Pytester):
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    result = pytester.runpytest("--harness-migration-checks")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: harness: migration checks are on (--harness-migration-checks) but there is "
            "no alembic.ini to check: set harness_alembic_ini = 'alembic.ini' in pytest.ini "
            "or [[]tool.pytest.ini_options[]]"
        ]
    )


def test_selected_and_left_out_like_any_test(project: AlembicProject):
    project.pytester.makepyfile(test_user=USER_TEST)
    only_tests = project.run("sqlite", "--harness-migration-checks", "-m", "not harness_migrations")
    only_tests.assert_outcomes(passed=1)
    stairway = project.run("sqlite", "--harness-migration-checks", "-k", "stairway", "-v")
    stairway.assert_outcomes(passed=1)
    stairway.stdout.fnmatch_lines(["harness-migrations::stairway?sqlite? PASSED*"])


def test_a_branched_and_merged_tree_passes(project: AlembicProject, backend: str):
    """Two branches from 0002, merged by 0004: the stairway compares like with like."""
    for rev, table in (("0003", "tags"), ("0003b", "genres")):
        project.revision(
            rev,
            "0002",
            f"create {table}",
            f"""
            def upgrade():
                op.create_table("{table}", sa.Column("id", sa.Integer, primary_key=True))


            def downgrade():
                op.drop_table("{table}")
            """,
        )
    project.revision(
        "0004",
        ("0003", "0003b"),
        "merge tags and genres",
        "def upgrade():\n    pass\n\n\ndef downgrade():\n    pass\n",
    )
    project.add_to_models(
        """
        tags = sa.Table("tags", metadata, sa.Column("id", sa.Integer, primary_key=True))
        genres = sa.Table("genres", metadata, sa.Column("id", sa.Integer, primary_key=True))
        """
    )
    result = project.run(backend, "--harness-migration-checks", "-m", "harness_migrations")
    result.assert_outcomes(passed=4)


SHARED_DATABASE_TEST = """
from sqlalchemy import inspect, text


async def test_the_tests_database_is_untouched_by_the_checks(db_session):
    version = await db_session.scalar(text("SELECT version_num FROM alembic_version"))
    assert version == "0003"
    tables = await db_session.run_sync(lambda s: inspect(s.connection()).get_table_names())
    assert sorted(tables) == ["alembic_version", "authors", "books", "reviews"]
"""

#: lists every database on a server: test code may know its dialects
LIST_DATABASES = {"postgresql": "SELECT datname FROM pg_database", "mysql": "SHOW DATABASES"}


async def _databases(url: URL, query: str) -> list[str]:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            return [str(name) for name in (await conn.execute(text(query))).scalars()]
    finally:
        await engine.dispose()


def test_checks_run_in_scratch_databases_of_their_own(project: AlembicProject, backend: str):
    """A stairway that breaks halfway leaves the tests' database migrated as usual."""
    project.revision(
        "0003",
        "0002",
        "create reviews",
        """
        def upgrade():
            op.create_table("reviews", sa.Column("id", sa.Integer, primary_key=True))


        def downgrade():
            pass  # leaves reviews behind
        """,
    )
    project.add_to_models(
        'reviews = sa.Table("reviews", metadata, sa.Column("id", sa.Integer, primary_key=True))'
    )
    project.pytester.makepyfile(test_user=textwrap.dedent(SHARED_DATABASE_TEST))
    result = project.run(backend, "--harness-migration-checks", "-v")
    # Had the checks used the tests' database, migrating it would stop the session instead.
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines(["*test_the_tests_database_is_untouched_by_the_checks?* PASSED*"])
    server = project.outer.get(backend).server
    if server is None:
        return
    # In a thread of its own: asyncio.run here would unset the loop pytest-asyncio 1.0 keeps
    # as this thread's current one, and break the async tests after this one.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        query = _databases(server.url, LIST_DATABASES[backend])
        names = pool.submit(asyncio.run, query).result()
    # The inner run lived in this process: its databases are named after our pid. All dropped.
    prefix = f"harness_{host_tag()}_{os.getpid()}_"
    leftovers = [
        name
        for name in names
        if name.startswith(prefix) and name.endswith(tuple(f"_{c}" for c in DATABASE_CHECKS))
    ]
    assert leftovers == []


def test_each_xdist_worker_checks_in_its_own_databases(project: AlembicProject, backend: str):
    project.add_to_ini("pythonpath = .")  # the workers import models.py too
    result = project.run(backend, "--harness-migration-checks", "-n", "2", "-p", "no:benchmark")
    result.assert_outcomes(passed=4)
