"""Transactional tests: real commits that other connections see, then only what changed reset."""

from __future__ import annotations

from tests.wiring.conftest import Shape
from tests.wiring.test_shapes import SESSION_DEPENDENCY

COMMITTED = """
import asyncio

import pytest
from sqlalchemy import func, insert, inspect, select, text
from shapeapp import SessionLocal, items


@pytest.mark.harness_isolation("commit")
async def test_commits_are_real(client, db_session, db_engine):
    assert (await client.post("/plain/one")).status_code == 201

    async def background():  # a task with a session of its own, as apps have
        async with SessionLocal() as session:
            await session.execute(insert(items).values(name="two"))
            await session.commit()

    await asyncio.create_task(background())
    async with db_engine.connect() as other:  # a second connection sees both commits
        assert (await other.execute(select(func.count()).select_from(items))).scalar() == 2
    assert (await db_session.execute(select(func.count()).select_from(items))).scalar() == 2


async def test_the_next_test_starts_from_the_migrated_state(db_session):
    assert (await db_session.execute(select(func.count()).select_from(items))).scalar() == 0
    result = await db_session.execute(insert(items).values(name="again"))
    assert result.inserted_primary_key[0] == 1  # the counter was restarted too


@pytest.mark.harness_isolation("commit")
async def test_ddl_in_a_transactional_test(db_session):
    await db_session.execute(text("CREATE TABLE scratch (id INTEGER PRIMARY KEY)"))
    await db_session.execute(insert(items).values(name="three"))
    await db_session.commit()


async def test_after_ddl_the_schema_is_the_migrated_one(db_connection):
    names = await db_connection.run_sync(lambda c: inspect(c).get_table_names())
    assert "scratch" not in names
    assert (await db_connection.execute(select(func.count()).select_from(items))).scalar() == 0
"""


def test_a_transactional_test_commits_for_real_and_the_next_starts_clean(shape: Shape) -> None:
    shape.write(SESSION_DEPENDENCY, COMMITTED)
    result = shape.run("-p", "no:randomly")
    result.assert_outcomes(passed=4)


def test_a_bad_isolation_mode_is_one_line(shape: Shape) -> None:
    shape.write(
        SESSION_DEPENDENCY,
        """
import pytest


@pytest.mark.harness_isolation("comit")
async def test_typo(db_session):
    pass
""",
    )
    result = shape.run()
    assert result.ret == 4
    result.stderr.fnmatch_lines(
        [
            "ERROR: test_shape.py::test_typo[[]*[]]: @pytest.mark.harness_isolation takes one "
            "of 'savepoint', 'commit'; got ('comit',)"
        ]
    )
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


def test_what_is_reset_follows_foreign_keys_and_spares_seeded_rows() -> None:
    from harness.isolation.committed import Baseline, Touched, _to_clear

    baseline = Baseline(
        order={"authors": "authors", "books": "books", "genres": "genres"},
        dependents={"authors": {"books"}, "books": set(), "genres": set()},
        seeded={"genres"},
        has_sqlite_sequence=False,
    )
    # Rows in books may point at the authors written: both emptied, children first.
    assert _to_clear(Touched(tables={"authors"}), baseline) == (["books", "authors"], None)
    assert _to_clear(Touched(tables={"genres"}), baseline) == (
        [],
        "genres holds rows the migrations put there",
    )
    touched = Touched()
    touched.see("ALTER TABLE books ADD COLUMN x INT")
    assert _to_clear(touched, baseline) == ([], "ALTER TABLE books ADD COLUMN x INT")
    touched = Touched()
    touched.see('INSERT INTO "public"."Authors" (name) VALUES ($1)')
    assert touched.tables == {"authors"}
