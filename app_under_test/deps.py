"""FastAPI dependencies, with ``Annotated`` aliases for route signatures."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Path, Query
from sqlalchemy.ext.asyncio import AsyncSession

from app_under_test import db
from app_under_test.schemas import INT32_MAX


async def get_session() -> AsyncIterator[AsyncSession]:
    """Yield one session per request; closing it rolls back whatever was not committed.

    Tests run it unchanged: the harness binds the sessions it makes to each test's
    transaction.
    """
    async with db.SessionLocal() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]

AuthorId = Annotated[int, Path(ge=1, le=INT32_MAX)]
BookId = Annotated[int, Path(ge=1, le=INT32_MAX)]
ReviewId = Annotated[int, Path(ge=1, le=INT32_MAX)]

MAX_PAGE_SIZE = 100
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="page size")]
Offset = Annotated[int, Query(ge=0, le=INT32_MAX, description="rows to skip")]
