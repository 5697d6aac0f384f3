"""The app's own code runs unchanged in tests: each adoption shape, with ini keys only."""

from __future__ import annotations

from tests.wiring.conftest import Shape

TABLE = """
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select

metadata = MetaData()
items = Table(
    "items", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(50), unique=True, nullable=False),
)
"""

SESSION_DEPENDENCY = (
    TABLE
    + """
from fastapi import Depends, FastAPI, HTTPException
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

engine = create_async_engine(OWN_URL)
SessionLocal = async_sessionmaker(engine)


async def get_session():
    async with SessionLocal() as session:
        yield session


async def get_mapped_session():
    # The app's own error mapping: a dependency turning database errors into a 409.
    async with SessionLocal() as session:
        try:
            yield session
        except IntegrityError:
            raise HTTPException(409, "duplicate, said the dependency") from None


app = FastAPI()


@app.post("/plain/{name}", status_code=201)
async def plain(name: str, session: AsyncSession = Depends(get_session)):
    await session.execute(insert(items).values(name=name))
    await session.commit()
    return {"name": name}


@app.post("/mapped/{name}", status_code=201)
async def mapped(name: str, session: AsyncSession = Depends(get_mapped_session)):
    await session.execute(insert(items).values(name=name))
    await session.commit()
    return {"name": name}


@app.get("/count")
async def count(session: AsyncSession = Depends(get_session)):
    return (await session.execute(select(func.count()).select_from(items))).scalar_one()
"""
)


def test_the_apps_session_dependency_runs_with_its_error_mapping(shape: Shape) -> None:
    shape.write(
        SESSION_DEPENDENCY,
        """
        import pytest
        from sqlalchemy.exc import IntegrityError


        async def test_the_dependency_maps_the_error(client):
            assert (await client.post("/mapped/a")).status_code == 201
            second = await client.post("/mapped/a")
            assert second.status_code == 409
            assert second.json() == {"detail": "duplicate, said the dependency"}


        async def test_a_failed_request_leaves_the_next_one_a_fresh_session(client):
            assert (await client.post("/plain/a")).status_code == 201
            with pytest.raises(IntegrityError):
                await client.post("/plain/a")
            # Production opens a new session per request: no PendingRollbackError here.
            assert (await client.post("/plain/b")).status_code == 201
            assert (await client.get("/count")).json() == 2


        async def test_the_next_test_starts_empty(client, db_session):
            assert (await client.get("/count")).json() == 0
        """,
    )
    shape.run("-p", "no:randomly").assert_outcomes(passed=3)


def test_an_override_still_shares_the_tests_session_when_asked(shape: Shape) -> None:
    shape.write(
        SESSION_DEPENDENCY,
        """
        from sqlalchemy import insert
        from shapeapp import items


        async def test_the_api_sees_the_tests_uncommitted_row(client, db_session):
            await db_session.execute(insert(items).values(name="seen"))
            assert (await client.get("/count")).json() == 1
        """,
        ini_lines="harness_wiring = override\nharness_session_dependency = shapeapp:get_session\n",
    )
    result = shape.run("-p", "no:randomly")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["harness: app shapeapp:app (shapeapp:get_session overridden)*"])


def test_a_dal_dependency_runs_as_written(shape: Shape) -> None:
    shape.write(
        (
            TABLE,
            """
        from fastapi import Depends, FastAPI
        from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

        maker = async_sessionmaker(create_async_engine(OWN_URL))


        class ItemDAL:
            def __init__(self, session):
                self.session = session

            async def create_item(self, name):
                await self.session.execute(insert(items).values(name=name))

            async def count(self):
                query = select(func.count()).select_from(items)
                return (await self.session.execute(query)).scalar_one()


        async def get_dal():
            async with maker() as session, session.begin():
                yield ItemDAL(session)


        app = FastAPI()


        @app.post("/items/{name}", status_code=201)
        async def create(name: str, dal: ItemDAL = Depends(get_dal)):
            await dal.create_item(name)


        @app.get("/count")
        async def count(dal: ItemDAL = Depends(get_dal)):
            return await dal.count()
        """,
        ),
        """
        async def test_created(client):
            assert (await client.post("/items/a")).status_code == 201
            assert (await client.get("/count")).json() == 1


        async def test_gone(client):
            assert (await client.get("/count")).json() == 0
        """,
    )
    shape.run("-p", "no:randomly").assert_outcomes(passed=2)


def test_sessions_made_directly_globally_and_by_a_manager_closed_at_shutdown(shape: Shape) -> None:
    shape.write(
        (
            TABLE,
            """
        from contextlib import asynccontextmanager

        from fastapi import FastAPI
        from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine


        class DatabaseSessionManager:
            def __init__(self):
                self.engine = None

            def init(self, url):
                self.engine = create_async_engine(url)

            async def close(self):
                await self.engine.dispose()
                self.engine = None

            def session(self):
                if self.engine is None:
                    raise RuntimeError("DatabaseSessionManager is not initialized")
                return AsyncSession(self.engine)


        manager = DatabaseSessionManager()
        manager.init(OWN_URL)
        state = {}


        @asynccontextmanager
        async def lifespan(app):
            state["global"] = AsyncSession(manager.engine)  # one session, kept all along
            yield
            await state["global"].close()
            await manager.close()


        app = FastAPI(lifespan=lifespan)


        @app.post("/direct/{name}", status_code=201)
        async def direct(name: str):
            async with manager.session() as session:
                await session.execute(insert(items).values(name=name))
                await session.commit()


        @app.post("/global/{name}", status_code=201)
        async def through_global(name: str):
            session = state["global"]
            await session.execute(insert(items).values(name=name))
            await session.commit()


        @app.get("/count")
        async def count():
            async with AsyncSession(manager.engine) as session:
                return (await session.execute(select(func.count()).select_from(items))).scalar_one()
        """,
        ),
        """
        async def test_first(client):
            assert (await client.post("/direct/a")).status_code == 201
            assert (await client.post("/global/b")).status_code == 201
            assert (await client.get("/count")).json() == 2


        async def test_second_starts_clean_and_the_manager_is_still_up(client):
            assert (await client.get("/count")).json() == 0
            assert (await client.post("/direct/a")).status_code == 201
            assert (await client.post("/global/b")).status_code == 201
        """,
    )
    result = shape.run("-p", "no:randomly")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*re-pointed at each test's transaction: 1 made at shapeapp:*"])


def test_sqlmodel_sessions_keep_their_class(shape: Shape) -> None:
    shape.write(
        """
        from fastapi import Depends, FastAPI
        from sqlalchemy.ext.asyncio import create_async_engine
        from sqlmodel import Field, SQLModel, select
        from sqlmodel.ext.asyncio.session import AsyncSession


        class Hero(SQLModel, table=True):
            id: int | None = Field(default=None, primary_key=True)
            name: str = Field(max_length=50, unique=True)


        metadata = SQLModel.metadata
        engine = create_async_engine(OWN_URL)


        async def get_session():
            async with AsyncSession(engine) as session:
                yield session


        app = FastAPI()


        @app.post("/heroes/{name}", status_code=201)
        async def create(name: str, session: AsyncSession = Depends(get_session)):
            hero = Hero(name=name)
            session.add(hero)
            await session.commit()
            await session.refresh(hero)
            return {"id": hero.id}


        @app.get("/heroes")
        async def listing(session: AsyncSession = Depends(get_session)):
            return [hero.name for hero in (await session.exec(select(Hero))).all()]
        """,
        """
        async def test_exec(client):
            assert (await client.post("/heroes/ada")).status_code == 201
            assert (await client.get("/heroes")).json() == ["ada"]


        async def test_gone(client):
            assert (await client.get("/heroes")).json() == []
        """,
    )
    shape.run("-p", "no:randomly", "-W", "ignore::DeprecationWarning").assert_outcomes(passed=2)


def test_the_apps_expire_on_commit_is_kept(shape: Shape) -> None:
    shape.write(
        """
        from fastapi import FastAPI
        from sqlalchemy import String
        from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
        from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


        class Base(DeclarativeBase):
            pass


        class Item(Base):
            __tablename__ = "items"
            id: Mapped[int] = mapped_column(primary_key=True)
            name: Mapped[str] = mapped_column(String(50))


        metadata = Base.metadata
        maker = async_sessionmaker(create_async_engine(OWN_URL))  # expire_on_commit=True
        app = FastAPI()


        @app.post("/items/{name}", status_code=201)
        async def create(name: str):
            async with maker() as session:
                item = Item(name=name)
                session.add(item)
                await session.commit()
                return {"id": item.id}  # no refresh(): a lazy load, which asyncio refuses
        """,
        """
        import gc

        import pytest
        from sqlalchemy.exc import SQLAlchemyError


        # aiomysql leaves the refused cursor() coroutine unawaited, in production too: let
        # it be collected (and its warning heard) here rather than in a later test.
        @pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
        async def test_the_missing_refresh_fails_as_in_production(client):
            # Production: the expired attribute needs a lazy load, which asyncio refuses.
            with pytest.raises(SQLAlchemyError, match="greenlet_spawn has not been called"):
                await client.post("/items/a")
            gc.collect()
        """,
    )
    shape.run().assert_outcomes(passed=1)


def test_settings_that_require_a_database_url(shape: Shape) -> None:
    shape.write(
        (
            TABLE,
            """
        from fastapi import FastAPI
        from pydantic_settings import BaseSettings
        from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine


        class Settings(BaseSettings):
            database_url: str  # required: importing fails without it


        settings = Settings()
        maker = async_sessionmaker(create_async_engine(settings.database_url))
        app = FastAPI()


        @app.post("/items/{name}", status_code=201)
        async def create(name: str):
            async with maker() as session:
                await session.execute(insert(items).values(name=name))
                await session.commit()
        """,
        ),
        """
        import os

        from sqlalchemy.engine import make_url

        from shapeapp import settings  # at collection, before any database exists


        async def test_the_url_is_the_test_databases(client, db_backend, db_engine):
            assert (await client.post("/items/a")).status_code == 201
            url = make_url(os.environ["DATABASE_URL"])
            assert url.get_backend_name() == db_backend.name
            assert url.database == db_engine.url.database
        """,
        ini_lines="harness_url_env = DATABASE_URL\n",
    )
    result = shape.run()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["harness: sets DATABASE_URL to each backend's test database URL"])


def test_sync_tests_with_starlettes_testclient(shape: Shape) -> None:
    shape.write(
        SESSION_DEPENDENCY,
        """
        import pytest
        from starlette.testclient import TestClient

        from shapeapp import app as the_app

        module_client = TestClient(the_app)  # FastAPI's docs make it at import


        @pytest.fixture
        def entered(app):
            with TestClient(app) as client:  # a user's fixture, lifespan run by `with`
                yield client


        def test_made_in_the_test(app):
            client = TestClient(app)
            assert client.post("/plain/a").status_code == 201
            assert client.get("/count").json() == 1


        def test_entered_in_a_fixture(entered):
            assert entered.post("/plain/a").status_code == 201
            assert entered.post("/mapped/a").status_code == 409
            assert entered.get("/count").json() == 1


        def test_made_at_import(db_session):
            assert module_client.post("/plain/a").status_code == 201
            assert module_client.get("/count").json() == 1


        def test_sync_client_fixture_and_a_clean_start(sync_client):
            assert sync_client.get("/count").json() == 0
            assert sync_client.post("/plain/a").status_code == 201


        async def test_testclient_in_an_async_test(app):
            TestClient(app).get("/count")
        """,
    )
    result = shape.run("-p", "no:randomly")
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines(
        ["*RuntimeError: harness: Starlette's TestClient cannot run inside an async test*"]
    )


def test_engines_used_directly_at_startup_and_in_routes(shape: Shape) -> None:
    shape.write(
        (
            TABLE,
            """
            from contextlib import asynccontextmanager

            from fastapi import FastAPI
            from sqlalchemy.ext.asyncio import create_async_engine

            engine = create_async_engine(OWN_URL)


            @asynccontextmanager
            async def lifespan(app):
                # The tutorials' startup: create the tables, seed a row (both committed).
                async with engine.begin() as conn:
                    await conn.run_sync(metadata.create_all)
                    if not await conn.scalar(select(func.count()).select_from(items)):
                        await conn.execute(insert(items).values(name="seed"))
                yield
                await engine.dispose()


            app = FastAPI(lifespan=lifespan)


            @app.post("/begin/{name}", status_code=201)
            async def with_begin(name: str):
                async with engine.begin() as conn:
                    await conn.execute(insert(items).values(name=name))


            @app.post("/as-you-go/{name}", status_code=201)
            async def as_you_go(name: str):
                async with engine.connect() as conn:
                    await conn.execute(insert(items).values(name=name))
                    await conn.commit()


            @app.post("/rolled-back/{name}", status_code=201)
            async def rolled_back(name: str):
                async with engine.connect() as conn:
                    await conn.execute(insert(items).values(name=name))
                    await conn.rollback()


            @app.get("/count")
            async def count():
                async with engine.connect() as conn:
                    return await conn.scalar(select(func.count()).select_from(items))
            """,
        ),
        """
        async def test_first(client):
            assert (await client.get("/count")).json() == 1  # the seed row
            assert (await client.post("/begin/a")).status_code == 201
            assert (await client.post("/as-you-go/b")).status_code == 201
            assert (await client.post("/rolled-back/c")).status_code == 201
            assert (await client.get("/count")).json() == 3


        async def test_second_starts_from_the_seed(client):
            assert (await client.get("/count")).json() == 1
            assert (await client.post("/begin/a")).status_code == 201
        """,
    )
    result = shape.run("-p", "no:randomly")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*engine connections redirected*opened at shapeapp:*"])


DRIVERS = {"postgresql": "psycopg", "mysql": "asyncmy", "sqlite": "aiosqlite"}


def test_the_chosen_driver_runs_the_app(shape: Shape) -> None:
    driver = DRIVERS[shape.backend]
    shape.write(
        SESSION_DEPENDENCY,
        f"""
        async def test_driver(client, db_engine):
            assert db_engine.dialect.driver == {driver!r}
            assert (await client.post("/plain/a")).status_code == 201
            assert (await client.get("/count")).json() == 1
        """,
    )
    result = shape.run(f"--harness-driver={shape.backend}={driver}")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"harness: driver {shape.backend} = {driver} (--harness-driver)"])


def test_a_driver_that_is_not_installed_is_one_line(shape: Shape) -> None:
    shape.write(SESSION_DEPENDENCY, "async def test_any(db_session):\n    pass\n")
    result = shape.run(f"--harness-driver={shape.backend}=nosuchdriver")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [f"*harness: {shape.backend}: driver 'nosuchdriver' cannot be used (*); install it*"]
    )
