"""Wiring a FastAPI app to the test: the app, its dependency overrides, its sessionmaker."""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from harness.errors import ConfigError
from harness.importing import load_object

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession


def resolve_app(spec: str) -> Any:
    """The app named by ``harness_app``: an ASGI app, or a factory that is called to make one."""
    obj = load_object(spec, key="harness_app")
    if hasattr(obj, "dependency_overrides"):
        return obj
    if callable(obj) and not inspect.iscoroutinefunction(obj):
        try:
            app = obj()
        except Exception as exc:  # a class that needs arguments, a settings model, ...
            first = (str(exc).strip().splitlines() or [""])[0]
            raise ConfigError(
                f"harness_app = {spec!r} is neither a FastAPI app nor a factory callable "
                f"with no arguments (calling it raised {type(exc).__name__}: {first})"
            ) from None
        if hasattr(app, "dependency_overrides"):
            return app
        raise ConfigError(
            f"harness_app = {spec!r}: the factory returned {app!r}, not a FastAPI app"
        )
    raise ConfigError(f"harness_app = {spec!r} is {obj!r}, not a FastAPI app or a factory")


def unused_dependencies(app: Any, dependencies: Sequence[Callable[..., Any]]) -> list[Any]:
    """The *dependencies* no route of *app* (nor the app itself) depends on, however deeply.

    An override of one of them changes nothing: the routes get their sessions another way.
    """
    wanted = set(dependencies)
    seen: set[Any] = set()
    todo: list[Any] = [getattr(route, "dependant", None) for route in getattr(app, "routes", ())]
    while todo and wanted - seen:
        dependant = todo.pop()
        if dependant is None:
            continue
        seen.add(getattr(dependant, "call", None))
        todo.extend(getattr(dependant, "dependencies", ()))
    return [dep for dep in dependencies if dep not in seen]


def resolve_dependencies(specs: Sequence[str]) -> list[Callable[..., Any]]:
    deps: list[Callable[..., Any]] = []
    for spec in specs:
        dep = load_object(spec, key="harness_session_dependency")
        if not callable(dep):
            raise ConfigError(f"harness_session_dependency = {spec!r} is not callable")
        deps.append(dep)
    return deps


@contextlib.contextmanager
def overridden(
    app: Any, dependencies: Sequence[Callable[..., Any]], session: AsyncSession
) -> Iterator[Any]:
    """Make every dependency in *dependencies* yield *session*; restore the app's own at exit."""

    async def _test_session() -> AsyncIterator[AsyncSession]:
        yield session

    overrides: dict[Any, Any] = app.dependency_overrides
    saved = {dep: overrides[dep] for dep in dependencies if dep in overrides}
    for dep in dependencies:
        overrides[dep] = _test_session
    try:
        yield app
    finally:
        for dep in dependencies:
            overrides.pop(dep, None)
        overrides.update(saved)


@contextlib.contextmanager
def rebound_sessionmaker(maker: Any, conn: AsyncConnection) -> Iterator[None]:
    """Point an ``async_sessionmaker`` the app uses directly at the test's connection."""
    if not hasattr(maker, "configure") or not hasattr(maker, "kw"):
        raise ConfigError(f"harness_sessionmaker must name an async_sessionmaker, not {maker!r}")
    saved = dict(maker.kw)
    maker.configure(bind=conn, join_transaction_mode="create_savepoint")
    try:
        yield
    finally:
        maker.kw = saved
