"""A scratch database of its own for each migration check: created, used, dropped."""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import shutil
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

from harness.errors import mask
from harness.migrations.tree import MigrationCheckFailed

if TYPE_CHECKING:
    from sqlalchemy.engine import URL, Connection

    from harness.backends.base import Backend


T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class ScratchDatabase:
    """A database of the checks' own: created empty, dropped after; never the tests' one."""

    backend: Backend
    #: an admin URL of the server (None for embedded backends such as SQLite)
    server_url: URL | None
    #: the database's name on the server
    name: str
    #: a directory of its own, for embedded backends' files; removed after
    directory: Path

    def masked(self, message: str) -> str:
        password = self.server_url.password if self.server_url is not None else None
        return mask(message, password)


async def _admin(url: URL, action: Callable[[AsyncConnection], Coroutine[Any, Any, None]]) -> None:
    engine = create_async_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await action(conn)
    finally:
        await engine.dispose()


async def _run_in(scratch: ScratchDatabase, fn: Callable[[Connection], T]) -> T:
    backend = scratch.backend
    if scratch.server_url is None:
        shutil.rmtree(scratch.directory, ignore_errors=True)
        scratch.directory.mkdir(parents=True)
        url = backend.embedded_url(scratch.directory)
    else:
        admin_url = scratch.server_url

        async def create(conn: AsyncConnection) -> None:
            await backend.drop_database(conn, scratch.name)  # only ever our own name
            await backend.create_database(conn, scratch.name)

        await _admin(admin_url, create)
        url = backend.database_url(admin_url, scratch.name)
    try:
        engine = create_async_engine(url, poolclass=NullPool)
        # The same engine set-up as the tests' database: on SQLite that is the savepoint fix
        # and foreign keys on, which migrations must survive there too.
        backend.prepare_engine(engine)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(fn)
        finally:
            await engine.dispose()
    finally:
        if scratch.server_url is None:
            shutil.rmtree(scratch.directory, ignore_errors=True)
        else:

            async def drop(conn: AsyncConnection) -> None:
                await backend.drop_database(conn, scratch.name)

            await _admin(scratch.server_url, drop)


def run_in_scratch_database(scratch: ScratchDatabase, fn: Callable[[Connection], T]) -> T:
    """Create *scratch*, call *fn* with a connection to it (in a greenlet), drop it.

    The event loop is private and runs in a thread of its own, so it never meets the loops
    pytest-asyncio keeps for the tests (nor replaces the thread's current loop).
    """
    pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="harness-checks")
    try:
        return pool.submit(asyncio.run, _run_in(scratch, fn)).result()
    except MigrationCheckFailed as exc:
        raise MigrationCheckFailed(scratch.masked(str(exc))) from None
    except (SQLAlchemyError, OSError) as exc:
        raise MigrationCheckFailed(
            scratch.masked(
                f"{scratch.backend.name}: cannot create or use the scratch database "
                f"{scratch.name!r}: {type(exc).__name__}: {exc}".splitlines()[0]
            )
        ) from None
    finally:
        # On Ctrl-C, don't wait for the check: the process is about to end anyway.
        pool.shutdown(wait=False)
