"""The FastAPI application: `create_app()` builds one, `app` is the one uvicorn serves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import IntegrityError

from app_under_test import db
from app_under_test.errors import integrity_error_handler, validation_error_handler
from app_under_test.routers import authors, books, reviews


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    # Looked up now, not at import: whoever swapped the engine (a test) gets theirs disposed.
    await db.engine.dispose()


def create_app() -> FastAPI:
    """Return a new application with every router and error handler installed."""
    app = FastAPI(
        title="Library (harness reference app)",
        summary="Authors, books and reviews over async SQLAlchemy.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.include_router(authors.router)
    app.include_router(books.router)
    app.include_router(reviews.book_reviews_router)
    app.include_router(reviews.router)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(IntegrityError, integrity_error_handler)
    return app


app = create_app()
