"""Clients that call the app in-process on the test's event loop."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from harness.errors import ConfigError

if TYPE_CHECKING:
    import httpx


@contextlib.asynccontextmanager
async def running_client(
    app: Any, base_url: str = "http://test"
) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client calling *app* in-process on this event loop, with its lifespan run."""
    try:
        import httpx
    except ImportError:
        raise ConfigError(
            "the client fixture needs httpx: pip install 'pytest-harness[fastapi]'"
        ) from None
    lifespan = getattr(getattr(app, "router", None), "lifespan_context", None)
    async with contextlib.AsyncExitStack() as stack:
        if lifespan is not None:
            await stack.enter_async_context(lifespan(app))
        transport = httpx.ASGITransport(app=app)
        client = await stack.enter_async_context(
            httpx.AsyncClient(transport=transport, base_url=base_url)
        )
        yield client
