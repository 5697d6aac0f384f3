"""Tasks that run at once: each one's transaction is whole, as on connections of their own."""

from __future__ import annotations

from tests.wiring.conftest import Shape
from tests.wiring.test_shapes import TABLE

CONCURRENT = (
    TABLE
    + """
import asyncio
import contextlib

from fastapi import FastAPI, HTTPException
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

engine = create_async_engine(OWN_URL)
SessionLocal = async_sessionmaker(engine, expire_on_commit=False)
jobs = None


async def worker():
    # A consumer started at startup: older than any request's transaction.
    while True:
        name, done = await jobs.get()
        async with SessionLocal() as session:
            await session.execute(insert(items).values(name=name))
            await session.commit()
        done.set_result(None)


@contextlib.asynccontextmanager
async def lifespan(app):
    global jobs
    jobs = asyncio.Queue()
    task = asyncio.create_task(worker())
    yield
    task.cancel()


app = FastAPI(lifespan=lifespan)


async def add(name):
    async with SessionLocal() as session:
        await session.execute(insert(items).values(name=name))
        await asyncio.sleep(0.01)  # the other tasks run meanwhile
        await session.commit()


@app.post("/items/{name}", status_code=201)
async def create(name: str):
    try:
        await add(name)
    except IntegrityError:
        raise HTTPException(409, "exists") from None
    return {"name": name}


@app.post("/fan-out", status_code=201)
async def fan_out(names: list[str]):
    # Inside a transaction of its own, children that each commit theirs.
    async with SessionLocal() as session:
        before = await session.scalar(select(func.count()).select_from(items))
        await asyncio.gather(*(add(name) for name in names))
        after = await session.scalar(select(func.count()).select_from(items))
    return {"before": before, "after": after}


@app.post("/queued/{name}", status_code=201)
async def queued(name: str):
    # Holds a transaction while it waits for the consumer's.
    async with SessionLocal() as session:
        await session.scalar(select(func.count()).select_from(items))
        done = asyncio.get_running_loop().create_future()
        await jobs.put((name, done))
        await done
    return {"name": name}


@app.get("/count")
async def count():
    async with engine.connect() as conn:
        return await conn.scalar(select(func.count()).select_from(items))
"""
)


def test_requests_sent_together_each_get_their_own_transaction(shape: Shape) -> None:
    shape.write(
        CONCURRENT,
        """
        import asyncio

        from sqlalchemy import func, insert, select

        from shapeapp import items


        async def test_two_creates_race(client):
            a, b = await asyncio.gather(client.post("/items/same"), client.post("/items/same"))
            assert sorted([a.status_code, b.status_code]) == [201, 409]
            assert (await client.get("/count")).json() == 1


        async def test_many_at_once(client):
            sent = [client.post(f"/items/n{i}") for i in range(25)]
            assert [r.status_code for r in await asyncio.gather(*sent)] == [201] * 25
            assert (await client.get("/count")).json() == 25


        async def test_the_apps_own_fan_out(client):
            response = await client.post("/fan-out", json=["x", "y", "z"])
            assert response.json() == {"before": 0, "after": 3}


        async def test_a_request_started_before_the_tests_session_is_used(client, db_session):
            sent = asyncio.create_task(client.post("/items/early"))
            await db_session.execute(insert(items).values(name="mine"))
            assert (await sent).status_code == 201
            assert await db_session.scalar(select(func.count()).select_from(items)) == 2


        async def test_and_gone_after(client):
            assert (await client.get("/count")).json() == 0
        """,
    )
    result = shape.run("-p", "no:randomly", "-vv")
    # None of them waited out its turn: that warns, and the project's ini makes warnings errors.
    result.assert_outcomes(passed=5)
    assert "TurnWarning" not in result.stdout.str()


def test_a_transaction_that_waits_for_an_older_tasks_is_named_and_goes_on(shape: Shape) -> None:
    shape.write(
        CONCURRENT,
        """
        async def test_queued(client):
            # The consumer's transaction went on inside the request's, which its close
            # rolled back: the row is gone, as it would not be in production. Hence the warning.
            response = await client.post("/queued/q")
            assert response.status_code == 201
        """,
        ini_lines="harness_lifespan = test\n",
    )
    result = shape.run("-p", "no:randomly", "-W", "always::harness.isolation.turns.TurnWarning")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "*TurnWarning: harness: test_shape.py::test_queued[[]*[]]: task * waited 1s for task "
            "* to end its transaction (sa_savepoint_*) on the test's connection, then went on*"
        ]
    )
