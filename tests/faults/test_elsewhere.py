"""A connection to a database other than the test's fails the test with one line."""

from __future__ import annotations

import sqlite3

from tests.wiring.conftest import Shape
from tests.wiring.test_shapes import SESSION_DEPENDENCY

SYNC_WRITER = """
from sqlalchemy import create_engine

sync_engine = create_engine(ELSEWHERE)


@app.post("/sync/{name}", status_code=201)
def sync_write(name: str):
    with sync_engine.begin() as conn:
        conn.execute(insert(items).values(name=name))
    return {"name": name}
"""


def test_a_sync_engine_of_the_app_is_refused_and_named(shape: Shape) -> None:
    elsewhere = shape.pytester.path / "elsewhere.sqlite3"
    writer = SYNC_WRITER.replace("ELSEWHERE", repr(f"sqlite:///{elsewhere}"))
    shape.write(
        (SESSION_DEPENDENCY, writer),
        """
async def test_writes_elsewhere(client):
    await client.post("/sync/lost")


async def test_swallowed(client):
    try:
        await client.post("/sync/lost")
    except Exception:
        pass  # the code under test hides the error: the test still fails


async def test_its_own_database_is_fine(client):
    assert (await client.post("/plain/kept")).status_code == 201
""",
    )
    result = shape.run("-p", "no:randomly")
    result.assert_outcomes(failed=1, passed=2, errors=1)  # the swallowed one: at teardown
    said = (
        f"harness: test_shape.py::test_*[[]{shape.backend}[]] connected to "
        f"sqlite:///{elsewhere} at shapeapp:*, not to the test's database*"
    )
    result.stdout.fnmatch_lines([said, said], consecutive=False)
    # Nothing landed there: at most the empty file sqlite makes on connecting.
    if elsewhere.exists():
        with sqlite3.connect(elsewhere) as db:
            tables = db.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall()
        assert tables == []
