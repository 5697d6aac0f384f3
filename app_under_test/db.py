"""The application's engine and session factory, built from the settings at import time."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from app_under_test.config import get_settings


def make_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """Return an async engine for *url*, with SQLite's foreign keys switched on."""
    engine = create_async_engine(url, echo=echo, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        # SQLite ignores foreign keys (and so ON DELETE CASCADE) unless each connection
        # asks for them; every other backend enforces them.
        @event.listens_for(engine.sync_engine, "connect")
        def _foreign_keys_on(dbapi_connection: Any, connection_record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

    return engine


_settings = get_settings()
engine = make_engine(_settings.database_url, echo=_settings.database_echo)
#: expire_on_commit=False: a route may still read an object it has just committed
#: without an implicit (and, under asyncio, impossible) lazy load.
SessionLocal = async_sessionmaker(engine, expire_on_commit=False)
