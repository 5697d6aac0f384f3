"""The small adopting project's app that pytester runs write as ``myapp.py``.

One app for the plugin tests and the Hypothesis tests: a unique column (so leaks between
tests or examples show as conflicts), a factory and a module-level app, and a sessionmaker
that code may use outside dependency injection.
"""

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


def create_app() -> FastAPI:
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
