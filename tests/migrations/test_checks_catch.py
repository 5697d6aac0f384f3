"""The migration checks fail when they should: each failure names backend, revision, difference."""

from __future__ import annotations

import pytest

from tests.migrations.conftest import AlembicProject

CHECKS_ONLY = ("--harness-migration-checks", "-m", "harness_migrations")


def test_a_correct_project_passes_every_check(project: AlembicProject, backend: str):
    result = project.run(backend, *CHECKS_ONLY, "-v")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(
        [
            "harness-migrations::single_head PASSED*",
            f"harness-migrations::upgrade_base_to_head?{backend}? PASSED*",
            f"harness-migrations::stairway?{backend}? PASSED*",
            f"harness-migrations::model_matches_schema?{backend}? PASSED*",
        ]
    )


def test_a_migration_that_forgets_a_column_the_model_has(project: AlembicProject, backend: str):
    project.models(extra_book_columns='sa.Column("isbn", sa.String(13), nullable=True),')
    result = project.run(backend, *CHECKS_ONLY)
    # Upgrading and downgrading work: only the comparison with the models can see it.
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        [
            f"*FAILED harness-migrations::model_matches_schema?{backend}?*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            f"harness: model_matches_schema[{backend}]: at head 0002 (create books), the "
            "migrated schema differs from the models (models:metadata):",
            "  - column books.isbn (VARCHAR(13)) is in the models but not in the database",
            "  a migration bringing the database to the models would run:",
            "      op.add_column('books', sa.Column('isbn', sa.String(length=13), nullable=True))",
        ]
    )


def test_a_downgrade_that_leaves_a_table_behind(project: AlembicProject, backend: str):
    project.revision(
        "0003",
        "0002",
        "create reviews",
        """
        def upgrade():
            op.create_table(
                "reviews",
                sa.Column("id", sa.Integer, primary_key=True),
                sa.Column("body", sa.Text),
            )


        def downgrade():
            pass  # forgot: op.drop_table("reviews")
        """,
    )
    project.add_to_models(
        """
        reviews = sa.Table(
            "reviews", metadata,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("body", sa.Text),
        )
        """
    )
    result = project.run(backend, *CHECKS_ONLY)
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        [
            f"harness: stairway[{backend}]: revision 0003 (create reviews): its downgrade "
            "(to 0002) does not undo its upgrade:",
            "  - table reviews is still there",
        ]
    )


def test_two_heads(project: AlembicProject):
    """Two revisions that both follow 0001 (two branches nobody merged)."""
    project.revision(
        "0003",
        "0001",
        "create tags",
        """
        def upgrade():
            op.create_table("tags", sa.Column("id", sa.Integer, primary_key=True))


        def downgrade():
            op.drop_table("tags")
        """,
    )
    result = project.run("sqlite", *CHECKS_ONLY, "-rs")
    result.assert_outcomes(failed=1, skipped=3)
    result.stdout.fnmatch_lines(
        [
            "harness: the revision tree has 2 heads:",
            "  - 000? (create *)",
            "  - 000? (create *)",
            "`alembic upgrade head` refuses to run. Merge them into one: "
            "alembic merge -m 'merge heads' 000? 000?",
        ]
    )
    # The database checks say why they did not run, pointing at the failure.
    result.stdout.fnmatch_lines(
        ["SKIPPED*2 heads (000?, 000?): merge them first (see harness-migrations::single_head)"]
    )


def test_a_failing_migration_names_its_revision_the_sql_and_the_line(
    project: AlembicProject, backend: str
):
    project.revision(
        "0003",
        "0002",
        "backfill titles",
        """
        def upgrade():
            op.execute("UPDATE no_such_table SET title = 'untitled'")


        def downgrade():
            pass
        """,
    )
    result = project.run(backend, *CHECKS_ONLY)
    # Every check that migrates fails at the same revision; single_head passes.
    result.assert_outcomes(passed=1, failed=3)
    for check in ("upgrade_base_to_head", "stairway", "model_matches_schema"):
        result.stdout.fnmatch_lines(
            [
                f"harness: {check}[{backend}]: revision 0003 (backfill titles): upgrade failed:",
                "  *no_such_table*",
                "    SQL: UPDATE no_such_table SET title = 'untitled'",
                "    at migrations/versions/0003_backfill_titles.py:* in upgrade()",
            ]
        )


#: fine on SQLite, which takes any type name; PostgreSQL has no DATETIME type, and MySQL's
#: VARCHAR needs a length. Both are what a project developed on SQLite alone ends up with.
SQLITE_ONLY_TYPES = """
def upgrade():
    op.create_table(
        "events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("title", sa.String()),
        sa.Column("happened_at", sa.DATETIME()),
    )


def downgrade():
    op.drop_table("events")
"""

SQLITE_ONLY_MODEL = """
events = sa.Table(
    "events", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("title", sa.String()),
    sa.Column("happened_at", sa.DATETIME()),
)
"""

#: what each server says about it
REJECTED = {
    "postgresql": '*type "datetime" does not exist*',
    "mysql": "*VARCHAR requires a length on dialect mysql*",
}


def test_a_type_that_works_on_sqlite_only(project: AlembicProject, any_backend: str):
    project.revision("0003", "0002", "create events", SQLITE_ONLY_TYPES)
    project.add_to_models(SQLITE_ONLY_MODEL)
    result = project.run(any_backend, *CHECKS_ONLY)
    if any_backend == "sqlite":
        # This is the point of running the checks on every backend: SQLite finds nothing.
        result.assert_outcomes(passed=4)
        return
    result.assert_outcomes(passed=1, failed=3)
    result.stdout.fnmatch_lines(
        [
            f"harness: upgrade_base_to_head[{any_backend}]: revision 0003 (create events): "
            "upgrade failed:",
            REJECTED[any_backend],
            "    at migrations/versions/0003_create_events.py:* in upgrade()",
        ]
    )
    password = project.password(any_backend)
    assert password
    assert password not in result.stdout.str()


#: a revision whose downgrade forgets what it added, and the model line that matches it
LEFT_BEHIND = {
    "column": (
        'op.add_column("books", sa.Column("isbn", sa.String(13), nullable=True))',
        'sa.Column("isbn", sa.String(13), nullable=True),',
    ),
    "index": (
        'op.create_index("ix_books_title", "books", ["title"])',
        'sa.Index("ix_books_title", "title"),',
    ),
}


@pytest.mark.parametrize("leftover", ["column", "index"])
def test_a_downgrade_that_leaves_a_column_or_an_index_behind(
    project: AlembicProject, backend: str, leftover: str
):
    """A column shows in the schema after the downgrade; an index when the upgrade runs again."""
    operation, model_line = LEFT_BEHIND[leftover]
    project.revision(
        "0003",
        "0002",
        f"add a {leftover}",
        f"""
        def upgrade():
            {operation}


        def downgrade():
            pass
        """,
    )
    project.models(extra_book_columns=model_line)
    result = project.run(backend, *CHECKS_ONLY)
    result.assert_outcomes(passed=3, failed=1)
    if leftover == "column":
        expected = [
            f"harness: stairway[{backend}]: revision 0003 (add a column): its downgrade "
            "(to 0002) does not undo its upgrade:",
            "  - column books.isbn is still there",
        ]
    else:
        expected = [
            f"harness: stairway[{backend}]: revision 0003 (add a index): upgrade "
            "(again, after its downgrade) failed:",
            "  *ix_books_title*",
        ]
    result.stdout.fnmatch_lines(expected)
