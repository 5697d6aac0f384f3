"""Database conflicts as HTTP 409s that say what conflicted, never how the driver put it."""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import HTTPException, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
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


def _renderable(value: Any) -> Any:
    """Return *value* with what JSON cannot carry made into text: NaN, infinities, surrogates."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {_renderable(k): _renderable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_renderable(v) for v in value]
    return value


async def validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """422 with FastAPI's usual body, even when the rejected input cannot be put in JSON.

    FastAPI's own handler echoes each bad ``input``; Python's JSON parser accepts ``NaN``,
    ``Infinity`` and ``"\\ud800"``, and echoing those back fails to render (a 500).
    """
    assert isinstance(exc, RequestValidationError)  # what it is registered for
    errors = _renderable(jsonable_encoder(exc.errors()))
    # 422 as a number: Starlette renamed its constant (..._ENTITY -> ..._CONTENT).
    return JSONResponse({"detail": errors}, status_code=422)
