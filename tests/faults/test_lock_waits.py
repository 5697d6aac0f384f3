"""A test whose second connection waits on its own transaction's lock fails, in bounded time."""

from __future__ import annotations

import time

from tests.wiring.conftest import Shape
from tests.wiring.test_shapes import SESSION_DEPENDENCY

WAITS_ON_ITSELF = """
from sqlalchemy import insert
from shapeapp import items


async def test_waits_on_itself(db_session, db_engine):
    await db_session.execute(insert(items).values(name="held"))
    async with db_engine.connect() as other:  # the same key: waits for the first to end
        await other.execute(insert(items).values(name="held"))
"""


def test_a_lock_wait_on_the_tests_own_transaction_fails_with_one_line(shape: Shape) -> None:
    shape.write(SESSION_DEPENDENCY, WAITS_ON_ITSELF, ini_lines="harness_lock_timeout = 1\n")
    started = time.monotonic()
    result = shape.run()
    took = time.monotonic() - started
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            f"harness: test_shape.py::test_waits_on_itself[[]{shape.backend}[]] waited 1 s for a "
            f"lock on {shape.backend} and gave up (harness_lock_timeout): the test's own "
            "transaction most likely holds it*harness_isolation('commit')*"
        ]
    )
    assert "Traceback" not in result.stdout.str()
    assert took < 30, f"the run took {took:.0f}s: the wait was not bounded"


def test_a_bad_lock_timeout_is_one_line(shape: Shape) -> None:
    shape.write(SESSION_DEPENDENCY, WAITS_ON_ITSELF, ini_lines="harness_lock_timeout = soon\n")
    result = shape.run()
    assert result.ret == 4
    result.stderr.fnmatch_lines(
        ["ERROR: harness: ini harness_lock_timeout: expected seconds (0 or more*not 'soon'"]
    )
