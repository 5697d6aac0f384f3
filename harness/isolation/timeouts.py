"""Bounded lock waits: a test's statement that waits for a lock fails after a while.

A lock a test's own transaction holds (``db_session``, ``db_connection`` and the app's
redirected sessions share one connection) can never be outwaited by a second connection
of that test: without a limit, the test hangs until something kills the run. The limit is
set when each of the engine's connections is opened, through the driver's own connect
arguments (no extra round trip per test).
"""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy.engine import URL


def connect_args(url: URL, seconds: float) -> dict[str, Any]:
    """The driver's connect arguments that make lock waits fail after *seconds* (0: never)."""
    if not seconds:
        return {}
    millis = max(1, int(seconds * 1000))
    driver = url.get_driver_name()
    backend = url.get_backend_name()
    if backend == "postgresql" and driver == "asyncpg":
        return {"server_settings": {"lock_timeout": str(millis)}}
    if backend == "postgresql" and driver.startswith("psycopg"):
        return {"options": f"-c lock_timeout={millis}"}
    if backend in ("mysql", "mariadb") and driver in ("aiomysql", "asyncmy"):
        whole = max(1, math.ceil(seconds))
        return {
            "init_command": f"SET SESSION innodb_lock_wait_timeout = {whole}, "
            f"SESSION lock_wait_timeout = {whole}"
        }
    if backend == "sqlite":
        return {"timeout": seconds}
    return {}


def _codes(exc: BaseException) -> tuple[object, object]:
    sqlstate = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
    args = getattr(exc, "args", ())
    return sqlstate, (args[0] if args else None)


def is_lock_timeout(exc: BaseException) -> bool:
    """True if *exc* (or what it wraps) is a lock wait that ran out of time."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        sqlstate, first = _codes(current)
        if sqlstate == "55P03" or first == 1205:  # lock_not_available; ER_LOCK_WAIT_TIMEOUT
            return True
        if type(current).__name__ in ("LockNotAvailableError", "LockNotAvailable"):
            return True
        if "database is locked" in str(current):
            return True
        todo.extend([getattr(current, "orig", None), current.__cause__, current.__context__])
    return False


def lock_message(test: str, backend: str, seconds: float, mode: str) -> str:
    holder = (
        "another connection of this test holds it (or another process)"
        if mode == "commit"
        else "the test's own transaction most likely holds it (db_session, db_connection and "
        "the app's sessions share one connection, which a second connection never outwaits): "
        "use @pytest.mark.harness_isolation('commit') for tests that need several connections"
    )
    return (
        f"harness: {test} waited {seconds:g} s for a lock on {backend} and gave up "
        f"(harness_lock_timeout): {holder}"
    )
