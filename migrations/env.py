"""Alembic environment for app_under_test: async engines, batch mode, and caller connections.

Two ways in:

* From the ``alembic`` command line: an async engine is built from the app's own settings
  (``DATABASE_URL``) and the migrations run on one of its connections.
* From code that already holds a connection (the harness pytest plugin runs
  ``command.upgrade`` inside ``AsyncConnection.run_sync``): it puts the *sync*
  ``Connection`` in ``config.attributes["connection"]`` and the migrations run on it, in the
  caller's transaction, without touching logging.
"""

from __future__ import annotations

import asyncio
from logging.config import fileConfig
from typing import Any

from alembic import context
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Boolean, Column, pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from app_under_test.config import get_settings
from app_under_test.models import Base

config = context.config
target_metadata = Base.metadata

_TRUE, _FALSE = {"true", "1", "'1'"}, {"false", "0", "'0'"}


def compare_server_default(
    context: MigrationContext,
    inspector_column: Column[object],
    metadata_column: Column[object],
    rendered_inspector_default: str | None,
    metadata_default: object,
    rendered_metadata_default: str | None,
) -> bool | None:
    """Settle what Alembic's own comparison gets wrong; None lets it decide the rest.

    A ``Boolean`` column with ``server_default=true()`` is ``TINYINT(1) DEFAULT 1`` on
    MySQL/MariaDB, which reflects as ``1`` while the model renders ``true``: the same default.
    """
    if isinstance(metadata_column.type, Boolean) and rendered_inspector_default is not None:
        pair = {rendered_inspector_default.lower(), (rendered_metadata_default or "").lower()}
        if pair <= _TRUE or pair <= _FALSE:
            return False
    return None


# Shared by online and offline runs and by autogenerate.
CONFIGURE_OPTIONS: dict[str, Any] = {
    # SQLite cannot ALTER most things: batch mode recreates the table there, and emits
    # plain ALTERs everywhere else.
    "render_as_batch": True,
    "compare_type": True,
    "compare_server_default": compare_server_default,
}


def run_migrations_offline() -> None:
    """Emit SQL to stdout (``alembic upgrade --sql``) instead of running it."""
    context.configure(
        url=get_settings().database_url,
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        **CONFIGURE_OPTIONS,
    )
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, **CONFIGURE_OPTIONS)
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    # NullPool: one connection for one run; nothing to keep once the migrations are done.
    engine = create_async_engine(get_settings().database_url, poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(do_run_migrations)
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        asyncio.run(run_async_migrations())
    elif isinstance(connection, Connection):
        do_run_migrations(connection)
    elif isinstance(connection, AsyncConnection):
        raise TypeError(
            'config.attributes["connection"] must be a sync Connection: call '
            "alembic.command inside `await async_connection.run_sync(...)` and pass the "
            "connection run_sync hands you"
        )
    else:
        raise TypeError(f'config.attributes["connection"] is {connection!r}, not a Connection')


# A caller that passes its own connection also owns logging: fileConfig would reconfigure
# (and by default disable) every logger in its process, pytest's capture included.
if config.config_file_name is not None and "connection" not in config.attributes:
    fileConfig(config.config_file_name, disable_existing_loggers=False)

if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
