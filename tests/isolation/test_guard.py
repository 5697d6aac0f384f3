"""The guard: a test that ends its outer transaction is named, and the next one starts clean."""

from __future__ import annotations

import pytest

from tests.wiring.conftest import Shape
from tests.wiring.test_shapes import SESSION_DEPENDENCY

NEXT_TEST = """

async def test_next_starts_clean(client):
    assert (await client.get("/count")).json() == 0
    assert (await client.post("/plain/leaked")).status_code == 201  # no conflict
"""


def test_committing_the_outer_transaction_names_the_test(shape: Shape) -> None:
    shape.write(
        SESSION_DEPENDENCY,
        """
from sqlalchemy import insert
from shapeapp import items


async def test_leaks(db_connection):
    await db_connection.execute(insert(items).values(name="leaked"))
    await db_connection.commit()
"""
        + NEXT_TEST,
    )
    result = shape.run("-p", "no:randomly")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            f"*harness: test_shape.py::test_leaks[[]{shape.backend}[]] ended its outer transaction"
            f" on {shape.backend} by a commit() of the outer transaction at test_shape:7:*",
        ]
    )


@pytest.mark.harness_backends("mysql")
@pytest.mark.parametrize(
    ("statement", "shown"),
    [
        ("CREATE TABLE t_leak (id INT)", "'CREATE TABLE t_leak (id INT)'"),
        ("TRUNCATE TABLE items", "'TRUNCATE TABLE items'"),
    ],
)
def test_ddl_that_commits_implicitly_is_named(shape: Shape, statement: str, shown: str) -> None:
    shape.write(
        SESSION_DEPENDENCY,
        f"""
from sqlalchemy import insert, inspect, text
from shapeapp import items


async def test_ddl(db_connection):
    await db_connection.execute(insert(items).values(name="leaked"))
    await db_connection.execute(text({statement!r}))
"""
        + NEXT_TEST
        + """

async def test_the_leaked_table_is_gone(db_connection):
    names = await db_connection.run_sync(lambda c: inspect(c).get_table_names())
    assert "t_leak" not in names
""",
    )
    result = shape.run("-p", "no:randomly")
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(
        [
            f"*ended its outer transaction on mysql by {shown} at test_shape:*, which commits "
            "implicitly on mysql*"
        ]
    )
