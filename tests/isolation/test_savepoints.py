"""Per-test isolation as a user meets it: commits undone, app rollbacks contained."""

from __future__ import annotations

import textwrap

import pytest


def test_rows_committed_through_the_api_are_gone_in_the_next_test(project: pytest.Pytester):
    project.makepyfile(
        """
        async def test_first(client):
            assert (await client.post("/items/a")).status_code == 201
            assert (await client.get("/count")).json() == 1

        async def test_second(client):
            assert (await client.get("/count")).json() == 0
            # The same unique value again: no conflict, the first test's row is gone.
            assert (await client.post("/items/a")).status_code == 201
        """
    )
    project.runpytest("-p", "no:randomly").assert_outcomes(passed=2)


def test_an_app_rollback_keeps_what_the_test_wrote_before(project: pytest.Pytester):
    project.makepyfile(
        """
        from sqlalchemy import insert, select
        from myapp import items

        async def test_rollback_is_contained(client, db_session):
            await db_session.execute(insert(items).values(name="mine"))
            await db_session.commit()
            assert (await client.post("/items/api")).status_code == 201
            # The pair fails on its second insert; the app rolls back only its own work.
            assert (await client.post("/pair/new/new")).status_code == 409
            names = set((await db_session.execute(select(items.c.name))).scalars())
            assert names == {"mine", "api"}
        """
    )
    project.runpytest().assert_outcomes(passed=1)


def test_sessionmaker_used_outside_dependencies_is_rebound(project: pytest.Pytester):
    project.makepyfile(
        side=textwrap.dedent(
            """
            from sqlalchemy import func, select
            from myapp import SessionLocal, app, items

            @app.get("/direct-count")
            async def direct_count():
                async with SessionLocal() as session:
                    query = select(func.count()).select_from(items)
                    return (await session.execute(query)).scalar_one()
            """
        )
    )
    project.makefile(
        ".ini",
        pytest=textwrap.dedent(
            """
            [pytest]
            asyncio_mode = auto
            asyncio_default_fixture_loop_scope = function
            harness_app = side:app
            harness_session_dependency = myapp:get_session
            harness_sessionmaker = myapp:SessionLocal
            harness_metadata = myapp:metadata
            """
        ),
    )
    project.makepyfile(
        """
        async def test_direct(client):
            await client.post("/items/a")
            assert (await client.get("/direct-count")).json() == 1

        async def test_direct_again(client):
            assert (await client.get("/direct-count")).json() == 0
        """
    )
    project.runpytest("-p", "no:randomly").assert_outcomes(passed=2)


def test_a_migration_failing_on_one_backend_errors_its_tests_and_the_others_run(
    two_backends: pytest.Pytester,
):
    project = two_backends
    project.makefile(
        ".ini",
        alembic="[alembic]\nscript_location = migrations\n",
        pytest=textwrap.dedent(
            """
            [pytest]
            asyncio_mode = auto
            asyncio_default_fixture_loop_scope = function
            filterwarnings = ignore:Module already imported:pytest.PytestAssertRewriteWarning
            harness_alembic_ini = alembic.ini
            """
        ),
    )
    migrations = project.mkdir("migrations")
    (migrations / "versions").mkdir()
    (migrations / "script.py.mako").write_text("")
    (migrations / "env.py").write_text(
        textwrap.dedent(
            """
            from alembic import context

            context.configure(connection=context.config.attributes["connection"])
            with context.begin_transaction():
                context.run_migrations()
            """
        )
    )
    (migrations / "versions" / "a1_ok.py").write_text(
        textwrap.dedent(
            """
            import sqlalchemy as sa
            from alembic import op
            revision, down_revision = "a1", None

            def upgrade():
                op.create_table("t", sa.Column("id", sa.Integer, primary_key=True))
            """
        )
    )
    (migrations / "versions" / "b2_broken.py").write_text(
        textwrap.dedent(
            """
            from alembic import op
            revision, down_revision = "b2", "a1"

            def upgrade():
                if op.get_bind().engine.url.database.endswith("other.sqlite3"):
                    op.execute("ALTER TABLE no_such_table ADD COLUMN x INTEGER")
            """
        )
    )
    project.makepyfile(
        """
        def test_one(db_engine):
            pass

        def test_two(db_engine):
            pass
        """
    )
    result = project.runpytest("--harness-backends=sqlite,sqlite2")
    result.assert_outcomes(passed=2, errors=2)
    line = "harness: sqlite2: migration b2 failed: OperationalError: no such table: no_such_table"
    # Each of its tests errors with that one line, and the summary says they did not run.
    for test in ("test_one", "test_two"):
        result.stdout.fnmatch_lines(
            [f"*ERROR at setup of {test}[[]sqlite2[]]*", line], consecutive=True
        )
    result.stdout.fnmatch_lines([f"{line}; no test ran on sqlite2 (each is reported as an error)"])
    assert "Exit" not in result.stdout.str()
