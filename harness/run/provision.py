"""Getting a database for each backend: choose a launcher, start a server, create a database."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

from harness.backends.base import Backend
from harness.errors import ServerError, driver_message, mask
from harness.launchers.base import LaunchContext, Launcher, LauncherUnavailable, Server
from harness.registry import Registry

T = TypeVar("T")


@dataclasses.dataclass
class Provisioned:
    """A database ready for the session: where it is and how it was obtained."""

    backend: Backend
    #: the test database's URL, with the password: never print it unmasked
    url: URL
    version: str
    launcher: str
    description: str
    server: Server | None = None
    #: the database created on the server (None for embedded backends)
    database: str | None = None
    ready_seconds: float = 0.0
    #: True when the database came migrated (an xdist worker's clone of the template)
    migrated: bool = False
    #: how the database was obtained, for the report ("" when this process started it)
    obtained: str = ""
    #: set on a kept server (``--harness-reuse``): given the run's database at the end
    #: instead of dropping it there, for the next run to drop in the background
    leave: Callable[[str], None] | None = None

    @property
    def masked_url(self) -> str:
        return self.url.render_as_string(hide_password=True)


def describe_error(exc: BaseException, url: URL) -> str:
    """One line about a driver error, never echoing the password."""
    text = f"{type(getattr(exc, 'orig', None) or exc).__name__}: {driver_message(exc)}"
    return mask(text, url.password)


def _run(coro_fn: Callable[[], Coroutine[Any, Any, T]]) -> T:
    # Provisioning happens in pytest hooks, outside the tests' event loops: a private loop
    # per call keeps every connection on the loop that opened it. It runs in a worker thread
    # because asyncio.run() in the main thread clears the main thread's current event loop,
    # which older pytest-asyncio versions rely on when an in-process run ends.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="harness-provision") as pool:
        return pool.submit(lambda: asyncio.run(coro_fn())).result()


async def _with_admin(url: URL, action: Callable[[AsyncConnection], Coroutine[Any, Any, T]]) -> T:
    from harness.isolation.elsewhere import exempt

    engine = create_async_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    exempt(engine.sync_engine)  # it may run while a test does (a spare copied meanwhile)
    try:
        async with engine.connect() as conn:
            return await action(conn)
    finally:
        await engine.dispose()


def candidate_launchers(
    registry: Registry, backend: Backend, launcher_name: str, ctx: LaunchContext
) -> list[Launcher]:
    """The launchers to try for *backend*, in order; for ``auto`` every one that can serve.

    Raises `ServerError` naming every way to get the backend when none can.
    """
    if launcher_name != "auto":
        launcher = registry.launcher(launcher_name, backend.name)
        if launcher is None:
            serving = [launcher.name for launcher in registry.launchers_for(backend.name)]
            raise ServerError(
                f"{backend.name}: the launcher {launcher_name!r} cannot serve this backend; "
                f"launchers for it: {', '.join(serving) or 'none'}"
            )
        reason = launcher.unavailable_reason(backend, ctx)
        if reason is not None:
            raise ServerError(f"{backend.name} via {launcher_name}: {reason}")
        return [launcher]
    reasons = []
    available = []
    candidates = [
        launcher for launcher in registry.launchers_for(backend.name) if launcher.name != "external"
    ]
    # A URL the user gave wins over starting anything.
    if ctx.options.get("url") and registry.launcher("external", backend.name):
        candidates.insert(0, registry.launchers[("external", backend.name)])
    for launcher in candidates:
        reason = launcher.unavailable_reason(backend, ctx)
        if reason is None:
            available.append(launcher)
        else:
            reasons.append(f"  - {launcher.name}: {reason}")
    if available:
        return available
    external = f"HARNESS_{backend.name.upper()}_URL"
    raise ServerError(
        f"no way to get a {backend.name} server here. Tried:\n"
        + "\n".join(reasons)
        + f"\n  - external: no URL given (--harness-url {backend.name}=URL, or {external})"
        + f"\nStart Docker, install the {backend.name} server binaries, or give a URL;"
        f" or leave {backend.name} out of --harness-backends."
    )


def start_server(
    registry: Registry, backend: Backend, launcher_name: str, ctx: LaunchContext
) -> tuple[Launcher, Server]:
    """Start a server with the first launcher that succeeds.

    Under ``auto`` a launcher that can serve in principle may still fail (Docker answers but
    the image cannot be pulled): the next one is tried, and the failure is said, not hidden.
    """
    candidates = candidate_launchers(registry, backend, launcher_name, ctx)
    failures: list[tuple[str, str]] = []
    for index, launcher in enumerate(candidates):
        try:
            return launcher, launcher.start(backend, ctx)
        except (LauncherUnavailable, ServerError) as exc:
            failures.append((launcher.name, str(exc)))
            if index + 1 < len(candidates):
                ctx.progress(
                    f"harness: {backend.name} via {launcher.name} failed ({exc}); "
                    f"trying {candidates[index + 1].name}"
                )
    if len(failures) == 1:
        name, message = failures[0]
        raise ServerError(f"{backend.name} via {name}: {message}")
    raise ServerError(
        f"{backend.name}: every launcher failed:\n"
        + "\n".join(f"  - {name}: {message}" for name, message in failures)
    )


def provision(
    registry: Registry, backend: Backend, launcher_name: str, ctx: LaunchContext
) -> Provisioned:
    """Obtain a server (or file) for *backend* and an empty database of this run's own on it."""
    missing = backend.check_driver()
    if missing is not None:
        raise ServerError(f"{backend.name}: {missing}")
    started = time.perf_counter()
    if not backend.needs_server:
        url = backend.embedded_url(ctx.workdir)
        version = _run(lambda: _with_admin(url, backend.server_version))
        return Provisioned(
            backend=backend,
            url=url,
            version=version,
            launcher="file",
            description="temp file",
            ready_seconds=time.perf_counter() - started,
        )

    launcher, server = start_server(registry, backend, launcher_name, ctx)
    return provision_on(backend, launcher.name, server, ctx, started)


def provision_on(
    backend: Backend, launcher: str, server: Server, ctx: LaunchContext, started: float
) -> Provisioned:
    """This run's empty database on *server*, which is stopped if that fails."""
    database = f"harness_{ctx.run_id}"

    swept: list[str] = []

    async def create(conn: AsyncConnection) -> str:
        version = await backend.server_version(conn)
        if not server.owned:  # a shared server: what killed runs left there goes first
            from harness.run.stale import sweep

            swept.extend(await sweep(conn, backend, keep=database))
        await backend.drop_database(conn, database)  # only ever our own name
        await backend.create_database(conn, database)
        return version

    try:
        version = _run(lambda: _with_admin(server.url, create))
    except (SQLAlchemyError, OSError) as exc:
        server.stop()
        masked = server.url.render_as_string(hide_password=True)
        raise ServerError(
            f"{backend.name}: cannot create a database on {masked}: "
            f"{describe_error(exc, server.url)}. Check the URL, the credentials and that the "
            "user may create databases."
        ) from None
    except BaseException:
        server.stop()
        raise
    if swept:
        ctx.progress(
            f"harness: {backend.name}: removed {len(swept)} database(s) that dead runs left "
            f"on {server.url.render_as_string(hide_password=True)}: {', '.join(swept)}"
        )
    return Provisioned(
        backend=backend,
        url=backend.database_url(server.url, database),
        version=version,
        launcher=launcher,
        description=server.description,
        server=server,
        database=database,
        ready_seconds=time.perf_counter() - started,
    )


def release(provisioned: Provisioned) -> list[str]:
    """Drop this run's database and stop the server; return problems instead of raising."""
    problems = []
    server = provisioned.server
    database = provisioned.database
    # A server the harness owns is removed whole by stop(): dropping first is a wasted trip.
    # On a kept one the run's database is left for the next run to drop, if it can be.
    if server is not None and not server.owned and database is not None:
        problems += [] if _leave(provisioned, database) else _drop(provisioned, server, database)
    if server is not None:
        try:
            server.stop()
        except Exception as exc:
            problems.append(f"{provisioned.backend.name}: could not stop the server: {exc}")
    return problems


def _leave(provisioned: Provisioned, database: str) -> bool:
    """Hand *database* to the kept server's next run, if this one has a kept server."""
    if provisioned.leave is None:
        return False
    try:
        provisioned.leave(database)
    except OSError:  # the record could not be written: dropped here after all
        return False
    return True


def _drop(provisioned: Provisioned, server: Server, database: str) -> list[str]:
    async def drop(conn: AsyncConnection) -> None:
        await provisioned.backend.drop_database(conn, database)

    try:
        _run(lambda: _with_admin(server.url, drop))
    except Exception as exc:
        return [
            f"{provisioned.backend.name}: could not drop database {database!r}: "
            f"{describe_error(exc, server.url)}"
        ]
    return []
