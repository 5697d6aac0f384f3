"""Redirection of Core connections: ``engine.connect()`` / ``engine.begin()`` on the app's engines.

An app may use an engine directly (``async with engine.begin() as conn: await
conn.execute(...)``), in a route, a helper or its lifespan. While a test runs, such a
connection is a stand-in on the test's own connection: its transactions are SAVEPOINTs, so
its ``commit()`` keeps the test's outer transaction intact and the harness's rollback still
undoes everything, and closing it only ends its savepoint.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncTransaction


class _SavepointTransaction:
    """What ``begin()`` on a joined connection gives: a savepoint with a transaction's API."""

    def __init__(self, owner: JoinedConnection) -> None:
        self._owner = owner
        self._nested: AsyncTransaction | None = None

    async def start(self) -> _SavepointTransaction:
        self._nested = await self._owner.target.begin_nested()
        return self

    def __await__(self) -> Any:
        return self.start().__await__()

    @property
    def is_active(self) -> bool:
        return self._nested is not None and self._nested.is_active

    async def commit(self) -> None:
        if self.is_active:
            assert self._nested is not None
            await self._nested.commit()
        self._owner.current = None

    async def rollback(self) -> None:
        if self.is_active:
            assert self._nested is not None
            await self._nested.rollback()
        self._owner.current = None

    async def __aenter__(self) -> _SavepointTransaction:
        if self._nested is None:
            await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            await self.commit()
        else:
            await self.rollback()


class JoinedConnection:
    """Stands in for an ``AsyncConnection`` of the app's engine, on the test's connection.

    Everything not defined here is the test's connection's own (``execute``, ``scalar``,
    ``run_sync``, ``dialect``, ...); a statement run outside ``begin()`` opens a savepoint, as
    "commit as you go" opens a transaction, which ``commit()`` releases.
    """

    def __init__(self, target: AsyncConnection) -> None:
        self.target = target
        self.current: _SavepointTransaction | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.target, name)

    def begin(self) -> _SavepointTransaction:
        self.current = _SavepointTransaction(self)
        return self.current

    def begin_nested(self) -> _SavepointTransaction:
        return _SavepointTransaction(self)

    def in_transaction(self) -> bool:
        return self.current is not None and self.current.is_active

    async def _autobegin(self) -> None:
        if not self.in_transaction():
            self.current = await _SavepointTransaction(self).start()

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        await self._autobegin()
        return await self.target.execute(*args, **kwargs)

    async def exec_driver_sql(self, *args: Any, **kwargs: Any) -> Any:
        await self._autobegin()
        return await self.target.exec_driver_sql(*args, **kwargs)

    async def scalar(self, *args: Any, **kwargs: Any) -> Any:
        await self._autobegin()
        return await self.target.scalar(*args, **kwargs)

    async def scalars(self, *args: Any, **kwargs: Any) -> Any:
        await self._autobegin()
        return await self.target.scalars(*args, **kwargs)

    async def run_sync(self, *args: Any, **kwargs: Any) -> Any:
        await self._autobegin()
        return await self.target.run_sync(*args, **kwargs)

    async def commit(self) -> None:
        if self.current is not None:
            await self.current.commit()

    async def rollback(self) -> None:
        if self.current is not None:
            await self.current.rollback()

    async def close(self) -> None:
        # Closing a connection rolls back what it did not commit; the test's stays open.
        await self.rollback()

    async def start(self) -> JoinedConnection:
        return self

    def __await__(self) -> Any:
        return self.start().__await__()

    async def __aenter__(self) -> JoinedConnection:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
