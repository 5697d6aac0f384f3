"""Databases that killed runs left on an external server are removed by a later run, safely:
only the harness's names, only when the owner is provably gone or the database is old."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import subprocess
import time

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from harness.plugin import RUN_KEY
from harness.run.workdir import host_tag
from tests.wiring.conftest import Shape
from tests.wiring.test_shapes import TABLE

LIST = {
    "postgresql": "SELECT datname FROM pg_database",
    "mysql": "SHOW DATABASES",
}


def _admin(url: URL, statements: list[str]) -> list[str]:
    async def run() -> list[str]:
        engine = create_async_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                rows: list[str] = []
                for statement in statements:
                    result = await conn.execute(text(statement))
                    if result.returns_rows:
                        rows.extend(str(row[0]) for row in result.all())
                return rows
        finally:
            await engine.dispose()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run()).result()


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


@pytest.mark.harness_backends("postgresql", "mysql")
def test_a_later_run_removes_what_dead_runs_left(shape: Shape, request: pytest.FixtureRequest):
    backend = shape.backend
    server = request.config.stash[RUN_KEY].get(backend).server
    assert server is not None
    now, old = int(time.time()), int(time.time()) - 3 * 24 * 3600
    here, elsewhere = host_tag(), "0f0f0f" if host_tag() != "0f0f0f" else "1e1e1e"
    gone = {
        f"harness_{here}_{_dead_pid()}_{now:08x}beef": "this machine, its PID is gone",
        f"harness_{elsewhere}_42_{old:08x}beef_gw0": "another machine, three days old",
    }
    kept = {
        f"harness_{elsewhere}_42_{now:08x}beef": "another machine, recent: maybe alive",
        f"harness_{here}_{os.getpid()}_{now:08x}beef": "this machine, alive",
        "harness_not_ours": "not a name the harness makes",
    }
    quote = '"' if backend == "postgresql" else "`"
    planted = [*gone, *kept]
    _admin(server.url, [f"CREATE DATABASE {quote}{name}{quote}" for name in planted])
    try:
        shape.write(TABLE, "async def test_one(db_session):\n    pass\n")
        result = shape.run()
        result.assert_outcomes(passed=1)
        result.stdout.fnmatch_lines(
            [f"harness: {backend}: removed 2 database(s) that dead runs left on *"]
        )
        names = set(_admin(server.url, [LIST[backend]]))
        for name, why in gone.items():
            assert name not in names, f"{name} ({why}) was left"
        for name, why in kept.items():
            assert name in names, f"{name} ({why}) was removed"
    finally:
        _admin(server.url, [f"DROP DATABASE IF EXISTS {quote}{name}{quote}" for name in planted])
