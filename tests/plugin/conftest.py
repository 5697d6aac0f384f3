"""A small adopting project, written into pytester's temp dir for each test."""

from __future__ import annotations

import os
import textwrap

import pytest

APP = """
from collections.abc import AsyncIterator

from fastapi import Depends, FastAPI, HTTPException
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

metadata = MetaData()
items = Table(
    "items", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(50), unique=True, nullable=False),
)
engine = create_async_engine("sqlite+aiosqlite:///:memory:")
SessionLocal = async_sessionmaker(engine)


async def get_session() -> AsyncIterator[AsyncSession]:
    async with SessionLocal() as session:
        yield session


def create_app() -> FastAPI:
    app = FastAPI()

    @app.post("/items/{name}", status_code=201)
    async def create(name: str, session: AsyncSession = Depends(get_session)):
        await session.execute(insert(items).values(name=name))
        await session.commit()
        return {"name": name}

    @app.post("/pair/{first}/{second}")
    async def pair(first: str, second: str, session: AsyncSession = Depends(get_session)):
        try:
            await session.execute(insert(items).values(name=first))
            await session.execute(insert(items).values(name=second))
            await session.commit()
        except IntegrityError:
            await session.rollback()
            raise HTTPException(409, "duplicate") from None
        return {"ok": True}

    @app.get("/count")
    async def count(session: AsyncSession = Depends(get_session)):
        return (await session.execute(select(func.count()).select_from(items))).scalar_one()

    return app


app = create_app()
"""

INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
filterwarnings =
    error
    # Started as the bare `pytest` script, the outer run has already imported these.
    ignore:Module already imported:pytest.PytestAssertRewriteWarning
harness_app = myapp:app
harness_session_dependency = myapp:get_session
harness_metadata = myapp:metadata
"""

# A second embedded backend, registered the way a third party would: proves the extension
# hook and gives multi-backend runs without a server.
SECOND_BACKEND = """
from harness.backends.sqlite import SQLiteBackend


class OtherSQLite(SQLiteBackend):
    name = "sqlite2"

    def embedded_url(self, directory):
        return super().embedded_url(directory).set(database=str(directory / "other.sqlite3"))


def pytest_harness_register(registry):
    registry.register(OtherSQLite())
"""


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """An adopting project: an app module and a pytest.ini configuring the harness."""
    # The outer run's own settings (tox sets some) must not leak into the inner runs.
    for name in list(os.environ):
        if name.startswith("HARNESS_"):
            monkeypatch.delenv(name)
    pytester.makepyfile(myapp=textwrap.dedent(APP))
    pytester.makefile(".ini", pytest=textwrap.dedent(INI))
    pytester.syspathinsert()
    return pytester


@pytest.fixture
def two_backends(project: pytest.Pytester) -> pytest.Pytester:
    project.makeconftest(SECOND_BACKEND)
    return project
