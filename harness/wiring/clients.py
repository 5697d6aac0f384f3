"""Clients that call the app in-process on the test's event loop."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from harness.errors import ConfigError

if TYPE_CHECKING:
    import httpx


@contextlib.asynccontextmanager
async def running_client(
    app: Any,
    base_url: str = "http://test",
    *,
    lifespan: bool = True,
    on_request: Callable[[], None] | None = None,
) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client calling *app* in-process on this event loop (its lifespan run around
    it when *lifespan*)."""
    try:
        import httpx
    except ImportError:
        raise ConfigError(
            "the client fixture needs httpx: pip install 'pytest-harness[fastapi]'"
        ) from None
    context = lifespan_of(app) if lifespan else None
    async with contextlib.AsyncExitStack() as stack:
        if context is not None:
            await stack.enter_async_context(context)
        transport = httpx.ASGITransport(app=app)
        hooks: dict[str, list[Callable[..., Any]]] = {}
        if on_request is not None:
            # Each request starts a new segment of the query record (for the N+1 report).

            async def _mark(request: httpx.Request) -> None:
                on_request()

            hooks["request"] = [_mark]
        client = await stack.enter_async_context(
            httpx.AsyncClient(transport=transport, base_url=base_url, event_hooks=hooks)
        )
        yield client


def lifespan_of(app: Any) -> contextlib.AbstractAsyncContextManager[Any] | None:
    """The app's lifespan context (startup on enter, shutdown on exit), or None if it has none."""
    lifespan = getattr(getattr(app, "router", None), "lifespan_context", None)
    return None if lifespan is None else lifespan(app)
