"""Starlette's TestClient in sync tests: the app runs on the loop that owns the test's connection.

TestClient runs the app through an anyio blocking portal, which normally starts an event loop
of its own in a new thread. asyncpg and aiomysql connections belong to the loop that opened
them, so the app's redirected sessions would then fail with "attached to a different loop".
While a harness test runs, the portal is instead served by the session's own event loop (idle
during a sync test), run in a helper thread for as long as a portal is open.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import sys
import threading
from collections.abc import Iterator
from typing import Any

ASYNC_TEST_HINT = (
    "harness: Starlette's TestClient cannot run inside an async test: it runs the app on "
    "another event loop than the test's database connection. Use the `client` fixture "
    "(httpx.AsyncClient) in async tests, or make this test a plain `def` using `sync_client` "
    "or TestClient(app)."
)


class LoopPortals:
    """Blocking portals served by *loop*, which runs in a helper thread while any is open."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._open = 0

    def _acquire(self) -> None:
        with self._lock:
            if self._open == 0:
                if self.loop.is_running():
                    raise RuntimeError(ASYNC_TEST_HINT)
                self._thread = threading.Thread(
                    target=self.loop.run_forever, name="harness-loop", daemon=True
                )
                self._thread.start()
            self._open += 1

    def _release(self) -> None:
        with self._lock:
            self._open -= 1
            if self._open == 0 and self._thread is not None:
                self.loop.call_soon_threadsafe(self.loop.stop)
                self._thread.join()
                self._thread = None

    @contextlib.contextmanager
    def portal(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        """Stands in for ``anyio.from_thread.start_blocking_portal`` (its options unused)."""
        from anyio.from_thread import BlockingPortal

        ready: concurrent.futures.Future[BlockingPortal] = concurrent.futures.Future()

        async def serve() -> None:
            async with BlockingPortal() as portal:
                ready.set_result(portal)
                await portal.sleep_until_stopped()

        self._acquire()
        try:
            served = asyncio.run_coroutine_threadsafe(serve(), self.loop)
            portal = ready.result()
            try:
                yield portal
            finally:
                portal.call(portal.stop)
                served.result()
        finally:
            self._release()


@contextlib.contextmanager
def testclient_on(loop: asyncio.AbstractEventLoop) -> Iterator[None]:
    """While active, TestClient (with or without ``with``) runs the app on *loop*."""
    if "anyio" not in sys.modules:  # no Starlette in this process: nothing to wire
        yield
        return
    import anyio.from_thread

    saved = anyio.from_thread.start_blocking_portal
    anyio.from_thread.start_blocking_portal = LoopPortals(loop).portal
    try:
        yield
    finally:
        anyio.from_thread.start_blocking_portal = saved
