"""Databases that dead runs left on a server someone else runs, and their removal.

A run that is killed cannot drop its database on an ``external`` server. The next run on
that server removes such leftovers, safely: only names the harness makes
(``harness_<host>_<pid>_<start><random>`` and the names derived from it), and only when
the owner is provably gone (a run of this machine whose PID no longer exists) or the
database is older than a day (a run of any machine: nothing runs that long).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from harness.backends.base import Backend
from harness.run.workdir import host_tag, pid_alive

NAME = re.compile(
    r"^harness_(?P<host>[0-9a-f]{6})_(?P<pid>\d+)_(?P<stamp>[0-9a-f]{8})[0-9a-f]{4}(?:_\w+)?$"
)
#: a database of another machine's run is taken as abandoned after this long
STALE_AFTER_SECONDS = 24 * 3600


def is_stale(
    name: str,
    *,
    now: float,
    host: str,
    alive: Callable[[int], bool] = pid_alive,
) -> bool:
    """True if *name* is a harness database whose run is provably gone, or old."""
    match = NAME.match(name)
    if match is None:
        return False
    if now - int(match["stamp"], 16) > STALE_AFTER_SECONDS:
        return True
    return match["host"] == host and not alive(int(match["pid"]))


async def _names(conn: AsyncConnection) -> list[str]:
    if conn.dialect.name == "postgresql":
        query = "SELECT datname FROM pg_database WHERE datname LIKE 'harness\\_%'"
    elif conn.dialect.name in ("mysql", "mariadb"):
        query = "SHOW DATABASES LIKE 'harness\\_%'"
    else:
        return []
    return [str(row[0]) for row in (await conn.execute(text(query))).all()]


async def sweep(conn: AsyncConnection, backend: Backend, *, keep: str) -> list[str]:
    """Drop the stale harness databases on *conn*'s server (never *keep*); return them."""
    now, host = time.time(), host_tag()
    removed = []
    for name in await _names(conn):
        if name != keep and is_stale(name, now=now, host=host):
            try:
                await backend.drop_database(conn, name)
            except Exception:  # another sweeper got there first, or no right to drop it
                continue
            removed.append(name)
    return removed
