"""Alembic as projects write it: the stock templates' env.py migrates the test database."""

from __future__ import annotations

import os

from alembic import command
from alembic.config import Config

from tests.migrations.conftest import AlembicProject


def _stock(project: AlembicProject, template: str) -> None:
    """Replace the project's Alembic tree by what ``alembic init -t TEMPLATE`` writes."""
    path = project.pytester.path
    (path / "alembic.ini").unlink()
    env_py = path / "migrations" / "env.py"
    env_py.unlink()
    (path / "migrations" / "script.py.mako").unlink(missing_ok=True)
    versions = path / "migrations" / "versions"
    kept = {p.name: p.read_text() for p in versions.glob("*.py")}
    for p in versions.glob("*.py"):
        p.unlink()
    versions.rmdir()
    (path / "migrations").rmdir()
    command.init(Config(str(path / "alembic.ini")), str(path / "migrations"), template=template)
    for name, text in kept.items():
        (path / "migrations" / "versions" / name).write_text(text)


def test_the_stock_async_env_py_migrates_the_test_database(
    project: AlembicProject, backend: str
) -> None:
    # `alembic init -t async`: env.py calls asyncio.run() on an engine of its own, built
    # from sqlalchemy.url; the harness runs it where no loop runs, with the test's URL.
    _stock(project, "async")
    project.pytester.makepyfile(
        """
        from sqlalchemy import inspect


        async def test_tables_exist(db_connection):
            names = await db_connection.run_sync(lambda c: inspect(c).get_table_names())
            assert {"authors", "books", "alembic_version"} <= set(names)
        """
    )
    project.run(backend).assert_outcomes(passed=1)


def test_an_env_py_that_migrates_another_database_is_named(
    project: AlembicProject, backend: str
) -> None:
    elsewhere = project.pytester.path / "elsewhere.sqlite3"
    (project.pytester.path / "migrations" / "env.py").write_text(
        f"""
import asyncio

from alembic import context
from sqlalchemy.ext.asyncio import create_async_engine


def run(connection):
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()


async def main():
    engine = create_async_engine({f"sqlite+aiosqlite:///{elsewhere}"!r})
    async with engine.begin() as conn:
        await conn.run_sync(run)
    await engine.dispose()


asyncio.run(main())
"""
    )
    project.pytester.makepyfile("async def test_any(db_session):\n    pass\n")
    result = project.run(backend)
    assert result.ret != 0
    result.stdout.fnmatch_lines(
        [f"*{backend}: alembic upgrade head ran, but the test database has no alembic_version*"]
    )
    assert os.path.exists(elsewhere)
