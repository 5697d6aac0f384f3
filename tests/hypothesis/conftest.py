"""Tests of the harness's Hypothesis support, and a small adopting project for pytester."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator

import pytest
from hypothesis import settings


def pytest_configure(config: pytest.Config) -> None:
    # harness.plugin loads this module when Hypothesis is installed; loading it again is a
    # no-op, and keeps these tests meaningful if it ever stops doing so.
    config.pluginmanager.import_plugin("harness.hypothesis")


APP = """
from collections.abc import AsyncIterator

from fastapi import Depends, FastAPI, HTTPException
from sqlalchemy import Column, Integer, MetaData, String, Table, delete, func, insert, select
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


app = FastAPI()


@app.post("/items/{name}", status_code=201)
async def create(name: str, session: AsyncSession = Depends(get_session)):
    try:
        await session.execute(insert(items).values(name=name))
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise HTTPException(409, "duplicate") from None
    return {"name": name}


@app.delete("/items/{name}", status_code=204)
async def remove(name: str, session: AsyncSession = Depends(get_session)):
    await session.execute(delete(items).where(items.c.name == name))
    await session.commit()


@app.get("/items")
async def listing(session: AsyncSession = Depends(get_session)):
    return sorted((await session.execute(select(items.c.name))).scalars())


@app.get("/count")
async def count(session: AsyncSession = Depends(get_session)):
    return (await session.execute(select(func.count()).select_from(items))).scalar_one()
"""

INI = """
[pytest]
addopts = --strict-markers
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
filterwarnings =
    error
    # Hypothesis reports a failure with libcst, which uses a deprecated mypy_extensions API.
    ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning
harness_app = myapp:app
harness_session_dependency = myapp:get_session
harness_metadata = myapp:metadata
"""

# What the project's conftest needs while harness.plugin does not load the module itself.
CONFTEST = """
pytest_plugins = ["harness.hypothesis"]
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """An adopting project: a FastAPI app with a unique column, configured for the harness."""
    pytester.makepyfile(myapp=textwrap.dedent(APP))
    pytester.makefile(".ini", pytest=textwrap.dedent(INI))
    pytester.makeconftest(CONFTEST)
    pytester.syspathinsert()
    return pytester


@pytest.fixture(autouse=True)
def _keep_hypothesis_profile() -> Iterator[None]:
    """An in-process pytester run may load another profile: restore ours after it."""
    name = settings.get_current_profile_name()
    yield
    settings.load_profile(name)
