"""The harness's fixtures: backend -> engine (migrated) -> connection -> session -> app -> client.

Each fixture has one job; override any of them in a conftest.py to change that one step.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, create_async_engine

from harness.errors import HarnessError
from harness.importing import load_object
from harness.isolation.transactions import rolled_back_session
from harness.migrations.runner import MigrationError, as_metadata, migrate
from harness.plugin import LOOP_SCOPE, RUN_KEY
from harness.run.state import BackendInfo, HarnessRun

if TYPE_CHECKING:
    import httpx


def _run(request: pytest.FixtureRequest) -> HarnessRun:
    return request.config.stash[RUN_KEY]


def _fail(exc: HarnessError) -> BaseException:
    __tracebackhide__ = True
    return pytest.fail.Exception(f"harness: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def db_backend(request: pytest.FixtureRequest) -> BackendInfo:
    """The backend this test runs on: ``name``, ``url`` (password hidden), ``version``.

    Using it, directly or through any harness fixture, runs the test once per selected
    backend, with ids ``[sqlite]``, ``[postgresql]``, ``[mysql]``.
    """
    run = _run(request)
    name = getattr(request, "param", None) or run.config.backends[0]
    try:
        return run.info(name)
    except HarnessError as exc:
        raise _fail(exc) from None


@pytest_asyncio.fixture(scope="session", loop_scope=LOOP_SCOPE)
async def db_engine(
    request: pytest.FixtureRequest, db_backend: BackendInfo
) -> AsyncIterator[AsyncEngine]:
    """A session-wide AsyncEngine on this backend's database, migrated to the project's head.

    Override this fixture to build the engine differently (pool options, echo, ...); keep it
    session-scoped with ``loop_scope="session"``.
    """
    run = _run(request)
    provisioned = run.get(db_backend.name)
    engine = create_async_engine(provisioned.url, pool_pre_ping=False)
    provisioned.backend.prepare_engine(engine)
    cfg = run.config
    try:
        alembic_ini = (run.rootdir / cfg.alembic_ini) if cfg.alembic_ini else None
        metadata = (
            as_metadata(load_object(cfg.metadata, key="harness_metadata"), key="harness_metadata")
            if cfg.metadata and alembic_ini is None
            else None
        )
        await migrate(engine, backend=db_backend.name, alembic_ini=alembic_ini, metadata=metadata)
    except MigrationError as exc:
        await engine.dispose()
        pytest.exit(f"harness: {exc}", returncode=pytest.ExitCode.TESTS_FAILED)
    except HarnessError as exc:
        await engine.dispose()
        raise _fail(exc) from None
    yield engine
    await engine.dispose()


@pytest_asyncio.fixture(loop_scope=LOOP_SCOPE)
async def db_session(db_engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """The test's AsyncSession: its commit() and rollback() only reach a SAVEPOINT.

    It is joined to an outer transaction that is rolled back after the test, so what the
    code under test commits is visible here and gone when the next test starts.
    """
    # The outer transaction and the session are one fixture, not two: each async fixture
    # costs a trip through the event loop runner at setup and teardown, on every test.
    # A connection per test (a pool checkout, no I/O) rather than one held all session:
    # SQLAlchemy numbers savepoints per connection, and on a held connection every test's
    # SAVEPOINT has a new name, which asyncpg must prepare anew (measured: about 0.15 ms).
    async with db_engine.connect() as conn, rolled_back_session(conn) as session:
        yield session


@pytest.fixture
def db_connection(db_session: AsyncSession) -> AsyncConnection:
    """The connection inside the test's outer transaction (the one ``db_session`` uses).

    Statements run on it directly are rolled back after the test too.
    """
    bind = db_session.bind
    assert isinstance(bind, AsyncConnection)
    return bind


@pytest.fixture
def app(
    request: pytest.FixtureRequest, db_session: AsyncSession, db_connection: AsyncConnection
) -> Iterator[Any]:
    """The configured FastAPI app, its session dependency overridden to yield ``db_session``.

    Override this fixture to build the app yourself (it must still install the overrides).
    """
    from harness.wiring.app import (
        overridden,
        rebound_sessionmaker,
        resolve_app,
        resolve_dependencies,
    )

    cfg = _run(request).config
    if not cfg.app:
        raise _fail(
            HarnessError(
                "the app fixture needs to know your app: set harness_app = 'package.module:app' "
                "(or a factory) and harness_session_dependency = 'package.deps:get_session' "
                "in pytest.ini or [tool.pytest.ini_options]"
            )
        )
    if not cfg.session_dependencies and not cfg.sessionmaker:
        raise _fail(
            HarnessError(
                "harness_app is set but not harness_session_dependency: name the dependency "
                "that yields your AsyncSession, e.g. harness_session_dependency = "
                "'package.deps:get_session'"
            )
        )
    try:
        application = resolve_app(cfg.app)
        dependencies = resolve_dependencies(cfg.session_dependencies)
        maker = (
            load_object(cfg.sessionmaker, key="harness_sessionmaker") if cfg.sessionmaker else None
        )
    except HarnessError as exc:
        raise _fail(exc) from None
    with overridden(application, dependencies, db_session):
        if maker is None:
            yield application
        else:
            with rebound_sessionmaker(maker, db_connection):
                yield application


@pytest_asyncio.fixture(loop_scope=LOOP_SCOPE)
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An ``httpx.AsyncClient`` calling the app in-process, lifespan run, base URL http://test."""
    from harness.wiring.clients import running_client

    async with running_client(app) as http:
        yield http


__all__ = ["app", "client", "db_backend", "db_connection", "db_engine", "db_session"]
