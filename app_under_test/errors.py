"""Database conflicts as HTTP 409s that say what conflicted, never how the driver put it."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import HTTPException, Request, status
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

logger = logging.getLogger(__name__)

GENERIC_CONFLICT = "the request conflicts with the current state of the data"


def not_found(what: str, key: int) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"{what} {key} not found")


@asynccontextmanager
async def conflicts_as_409(
    session: AsyncSession, explain: Callable[[], Awaitable[str | None]] | None = None
) -> AsyncIterator[None]:
    """Roll back and raise a 409 if the block hits an `IntegrityError`.

    *explain*, called after the rollback, may look at the data to say which constraint the
    request broke (a duplicate ISBN, a missing author); the driver's message, which differs
    per backend and may quote other rows, never reaches the client.
    """
    try:
        yield
    except IntegrityError as exc:
        logger.info("integrity error, rolled back: %s", exc.orig)
        await session.rollback()
        detail = (await explain()) if explain is not None else None
        raise HTTPException(status.HTTP_409_CONFLICT, detail or GENERIC_CONFLICT) from None


async def integrity_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """The backstop for a conflict a route did not expect: 409, with nothing from the driver."""
    logger.warning("unhandled integrity error on %s %s", request.method, request.url.path)
    return JSONResponse({"detail": GENERIC_CONFLICT}, status_code=status.HTTP_409_CONFLICT)
