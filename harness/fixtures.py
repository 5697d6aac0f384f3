"""The harness's fixtures: backend -> engine (migrated) -> connection -> session -> app -> client.

Each fixture has one job; override any of them in a conftest.py to change that one step.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio

from harness.errors import HarnessError
from harness.importing import load_object
from harness.isolation.marker import ISOLATION_KEY
from harness.plugin import LOOP_SCOPE, RUN_KEY, backend_of
from harness.queries.plugin import BACKEND_KEY, RECORDER_KEY, wants_recording
from harness.run.state import BackendInfo, HarnessRun

if TYPE_CHECKING:
    import httpx
    from sqlalchemy.ext.asyncio import (
        AsyncConnection,
        AsyncEngine,
        AsyncSession,
    )

    from harness.queries.report import Queries


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
    from sqlalchemy.ext.asyncio import create_async_engine

    from harness.isolation import guard, turns
    from harness.isolation.timeouts import connect_args
    from harness.migrations.runner import MigrationError, migrate
    from harness.run.template import schema_source

    run = _run(request)
    provisioned = run.get(db_backend.name)
    try:
        url = run.engine_url(db_backend.name)
    except HarnessError as exc:
        raise _fail(exc) from None
    engine = create_async_engine(
        url, pool_pre_ping=False, connect_args=connect_args(url, run.config.lock_timeout)
    )
    provisioned.backend.prepare_engine(engine)
    guard.watch(engine, getattr(provisioned.backend, "implicit_commit", None))
    turns.watch(engine)
    run.export_url(db_backend.name)
    try:
        alembic_ini, metadata = schema_source(run)

        async def again() -> str:
            return await migrate(
                engine, backend=db_backend.name, alembic_ini=alembic_ini, metadata=metadata
            )

        if not provisioned.migrated:  # an xdist worker's clone of the template already is
            await again()
        run.remigrate[db_backend.name] = again
    except MigrationError as exc:
        # This backend's tests cannot run; the others go on. pytest keeps this session
        # fixture's error, so each test on the backend errors at once with the same line.
        await engine.dispose()
        run.failures[db_backend.name] = exc
        raise _fail(exc) from None
    except HarnessError as exc:
        await engine.dispose()
        raise _fail(exc) from None
    yield engine
    if db_backend.name in run.failures:  # its server died: nothing to close cleanly
        await engine.dispose(close=False)
    else:
        await engine.dispose()


@pytest_asyncio.fixture(loop_scope=LOOP_SCOPE)
async def db_session(
    request: pytest.FixtureRequest, db_engine: AsyncEngine
) -> AsyncIterator[AsyncSession]:
    """The test's AsyncSession: its commit() and rollback() only reach a SAVEPOINT.

    It is joined to an outer transaction that is rolled back after the test, so what the
    code under test commits is visible here and gone when the next test starts. While the
    test runs, every AsyncSession the app makes on an engine of its own joins that same
    transaction (see `harness.wiring.redirect`).
    """
    from harness.isolation import guard, turns
    from harness.isolation.elsewhere import refused_elsewhere
    from harness.isolation.transactions import rolled_back_session
    from harness.queries.recorder import QueryRecorder, listen_on
    from harness.wiring.redirect import redirected
    from harness.wiring.testclient import testclient_on

    # The outer transaction and the session are one fixture, not two: each async fixture
    # costs a trip through the event loop runner at setup and teardown, on every test.
    # A connection per test (a pool checkout, no I/O) rather than one held all session:
    # SQLAlchemy numbers savepoints per connection, and on a held connection every test's
    # SAVEPOINT has a new name, which asyncpg must prepare anew (measured: about 0.15 ms).
    run = _run(request)
    backend = _backend_name(request)
    down = run.failures.get(backend)
    if down is not None:  # the server died earlier in the run: said once, failed fast
        raise _fail(down)
    redirections = run.redirections
    records = "db_queries" in request.fixturenames or wants_recording(
        request.node, run.config.nplusone
    )
    if records:
        listen_on(db_engine)  # before the connection exists: it reads the engine's listeners
    if request.node.stash.get(ISOLATION_KEY, None) == "commit":
        async for session in _committed_session(request, db_engine, records):
            yield session
        return
    try:
        async with db_engine.connect() as conn:
            guard.arm(conn)
            async with rolled_back_session(conn) as session, contextlib.AsyncExitStack() as stack:
                turns.arm(conn, request.node.nodeid, session)
                stack.callback(turns.disarm, conn)
                watch = stack.enter_context(refused_elsewhere(request.node.nodeid, db_engine.url))
                stack.enter_context(redirected(conn, redirections))
                stack.enter_context(testclient_on(asyncio.get_running_loop()))
                if records:
                    recorder = stack.enter_context(QueryRecorder().recording(conn))
                    request.node.stash[RECORDER_KEY] = recorder
                    request.node.stash[BACKEND_KEY] = backend
                try:
                    yield session
                finally:
                    if redirections.long_lived:
                        await redirections.release()
            what_ended = guard.ended(conn)
    except Exception:
        if backend not in run.failures:
            raise
    if backend in run.failures:  # the server died under the test: already said, once
        from harness.run.faults import forget_dead_connects

        forget_dead_connects()  # now, as well as after teardown: before pytest looks
        return
    if watch.refused and not watch.said:
        raise _fail(HarnessError(watch.refused[0]))
    if what_ended is not None:
        name = request.node.nodeid
        await guard.rebuild(db_engine, run.remigrate[backend])
        raise _fail(HarnessError(guard.leak_message(name, what_ended, backend)))


async def _committed_session(
    request: pytest.FixtureRequest, db_engine: AsyncEngine, records: bool
) -> AsyncIterator[AsyncSession]:
    """``harness_isolation("commit")``: a session whose commits are real, and afterwards only
    what the test changed put back (see `harness.isolation.committed`)."""
    from sqlalchemy.ext.asyncio import AsyncSession

    from harness.isolation import committed, guard
    from harness.queries.recorder import QueryRecorder
    from harness.wiring.redirect import to_engine
    from harness.wiring.testclient import testclient_on

    run = _run(request)
    backend = _backend_name(request)
    baseline = run.baselines.get(backend)
    if baseline is None:
        baseline = run.baselines[backend] = await committed.read_baseline(db_engine)
    with committed.tracking(db_engine) as touched:
        async with db_engine.connect() as conn, contextlib.AsyncExitStack() as stack:
            session = AsyncSession(bind=conn, expire_on_commit=False)
            stack.push_async_callback(session.close)
            stack.enter_context(to_engine(db_engine, run.redirections))
            stack.enter_context(testclient_on(asyncio.get_running_loop()))
            if records:
                recorder = stack.enter_context(QueryRecorder().recording(conn))
                request.node.stash[RECORDER_KEY] = recorder
                request.node.stash[BACKEND_KEY] = backend
            yield session
        await committed.reset(
            db_engine, touched, baseline, lambda: guard.rebuild(db_engine, run.remigrate[backend])
        )


def _backend_name(request: pytest.FixtureRequest) -> str:
    name = backend_of(request.node)
    if name is not None:  # the usual case: no fixture lookup
        return name
    backend = request.getfixturevalue("db_backend")
    return str(getattr(backend, "name", backend))


@pytest.fixture
def db_queries(request: pytest.FixtureRequest, db_session: AsyncSession) -> Queries:
    """The statements the test's code sends, with checks: ``with db_queries.at_most(3): ...``.

    It counts what the test's session and the app's redirected sessions and engines send,
    leaving out transaction control and connection setup, so the same work gives the same
    count on every backend; ``exactly(2, mysql=3)`` names a backend that genuinely differs.
    """
    from harness.queries.report import Queries

    return Queries(request.node.stash[RECORDER_KEY], request.node.stash[BACKEND_KEY])


@pytest.fixture
def db_connection(db_session: AsyncSession) -> AsyncConnection:
    """The connection inside the test's outer transaction (the one ``db_session`` uses).

    Statements run on it directly are rolled back after the test too.
    """
    from sqlalchemy.ext.asyncio import AsyncConnection

    bind = db_session.bind
    assert isinstance(bind, AsyncConnection)
    return bind


@pytest.fixture
def app(
    request: pytest.FixtureRequest, db_session: AsyncSession, db_connection: AsyncConnection
) -> Iterator[Any]:
    """The configured FastAPI app, running its own code on the test's transaction.

    By default nothing of the app is replaced: the sessions its dependencies make are
    redirected to the test's connection (``db_session`` does that). With
    ``harness_wiring = override`` its ``harness_session_dependency`` yields ``db_session``
    instead, so the test and the API share one session.

    Override this fixture to build the app yourself.
    """
    from harness.wiring.app import (
        overridden,
        rebound_sessionmaker,
        resolve_dependencies,
        unused_dependencies,
    )

    run = _run(request)
    cfg = run.config
    if not cfg.app:
        raise _fail(
            HarnessError(
                "the app fixture needs to know your app: set harness_app = 'package.module:app' "
                "(or a factory) in pytest.ini or [tool.pytest.ini_options]"
            )
        )
    if cfg.wiring == "override" and not cfg.session_dependencies:
        raise _fail(
            HarnessError(
                "harness_wiring = override needs harness_session_dependency: name the "
                "dependency that yields your AsyncSession, e.g. harness_session_dependency = "
                "'package.deps:get_session' (or drop harness_wiring to keep the app's own)"
            )
        )
    try:
        application = run.app(cfg.app)
        dependencies = (
            resolve_dependencies(cfg.session_dependencies) if cfg.wiring == "override" else []
        )
        if dependencies and not run.redirections.checked_dependencies:
            run.redirections.checked_dependencies = True
            unused = unused_dependencies(application, dependencies)
            run.redirections.unused_dependencies = [
                spec
                for spec, dep in zip(cfg.session_dependencies, dependencies, strict=True)
                if dep in unused
            ]
        maker = (
            load_object(cfg.sessionmaker, key="harness_sessionmaker") if cfg.sessionmaker else None
        )
    except HarnessError as exc:
        raise _fail(exc) from None
    with contextlib.ExitStack() as stack:
        stack.enter_context(overridden(application, dependencies, db_session))
        if maker is not None:
            stack.enter_context(rebound_sessionmaker(maker, db_connection))
        yield application


@pytest_asyncio.fixture(scope="session", loop_scope=LOOP_SCOPE)
async def app_lifespan(
    request: pytest.FixtureRequest, db_engine: AsyncEngine
) -> AsyncIterator[None]:
    """The app's lifespan, run once per backend for the whole session, as a server runs it.

    Sessions its startup makes and keeps (a global object's) are re-pointed at each test's
    transaction. With ``harness_lifespan = test`` the ``client`` fixture runs it per test
    instead. Override this fixture to start the app differently.
    """
    from harness.wiring.clients import lifespan_of
    from harness.wiring.redirect import startup_redirected

    run = _run(request)
    cfg = run.config
    if not cfg.app or cfg.lifespan != "session":
        yield
        return
    try:
        lifespan = lifespan_of(run.app(cfg.app))
    except HarnessError as exc:
        raise _fail(exc) from None
    if lifespan is None:
        yield
        return
    with startup_redirected(db_engine, run.redirections):
        await lifespan.__aenter__()
    try:
        yield
    finally:
        with startup_redirected(db_engine, run.redirections):
            await lifespan.__aexit__(None, None, None)


@pytest_asyncio.fixture(loop_scope=LOOP_SCOPE)
async def client(
    request: pytest.FixtureRequest, app_lifespan: None, app: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """An ``httpx.AsyncClient`` calling the app in-process, base URL http://test.

    The app's lifespan has run once for the session (``app_lifespan``), or runs around each
    test with ``harness_lifespan = test``.
    """
    from harness.wiring.clients import running_client

    per_test = _run(request).config.lifespan == "test"
    recorder = request.node.stash.get(RECORDER_KEY, None)
    on_request = None if recorder is None else recorder.new_segment
    async with running_client(app, lifespan=per_test, on_request=on_request) as http:
        yield http


@pytest.fixture
def sync_client(app_lifespan: None, app: Any) -> Iterator[Any]:
    """Starlette's ``TestClient`` on the app, for sync tests; base URL http://test.

    It runs the app on the loop that owns the test's connection, as ``TestClient(app)`` made
    in a sync test does. The app's lifespan has run once for the session (``app_lifespan``).
    """
    try:
        from starlette.testclient import TestClient
    except ImportError:
        raise _fail(
            HarnessError(
                "the sync_client fixture needs fastapi: pip install 'pytest-harness[fastapi]'"
            )
        ) from None
    with contextlib.closing(TestClient(app, base_url="http://test")) as http:
        yield http


__all__ = [
    "app",
    "app_lifespan",
    "client",
    "db_backend",
    "db_connection",
    "db_engine",
    "db_queries",
    "db_session",
    "sync_client",
]
