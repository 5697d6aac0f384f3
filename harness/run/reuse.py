"""``--harness-reuse``: keep each server and a migrated template for the next run, and use them.

Without the flag a run starts its servers and migrates its databases, and removes everything
at its end. With it, the first run keeps the server (a ``local`` one: the process and its
directory) and a template database migrated to the project's schema; the next run with the
flag finds them (`harness.run.kept`), checks that the server still runs and that the
template's fingerprint (`harness.run.fingerprint`) still matches, and clones its test
database from the template (as an xdist worker does, `harness.run.clone`) instead of
starting a server and migrating. A changed fingerprint rebuilds the template on the same
server, and says why; a server that died or whose binaries changed is replaced.

What is kept is used by one run at a time (`kept.Lock`, held for the whole run): a second
run at the same time gets a server of its own, removed at its end. The kept server outlives
the run that started it: at the end a run leaves its own database for the next run to drop
(`spare.leave`) and releases the lock.
"""

from __future__ import annotations

import dataclasses
import functools
import secrets
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import HarnessError, ServerError
from harness.launchers.base import Server
from harness.run import kept, spare
from harness.run.drop import discard
from harness.run.fingerprint import fingerprint, why_stale
from harness.run.provision import Provisioned, provision, provision_on, start_server

if TYPE_CHECKING:
    from sqlalchemy.engine import URL
    from sqlalchemy.ext.asyncio import AsyncConnection

    from harness.backends.base import Backend
    from harness.launchers.base import LaunchContext
    from harness.registry import Registry
    from harness.run.state import HarnessRun

#: the kept template's name on a kept server (one project per server)
TEMPLATE = "harness_template"
REUSED = "reused (kept server, template current)"
STARTED = "started, kept for reuse"
#: template migrations take turns: ``harness_url_env`` is one environment for all backends
_MIGRATING = threading.Lock()


def provision_reusing(run: HarnessRun, backend: Backend, ctx: LaunchContext) -> Provisioned:
    """Backend *backend*'s database for this run, from what an earlier run kept if it can."""
    missing = backend.check_driver()
    if missing is not None:
        raise ServerError(f"{backend.name}: {missing}")
    started = time.perf_counter()
    directory = kept.key_dir(backend.name, run.rootdir)
    lock = kept.Lock.take(directory)
    if lock is None:
        run.progress(
            f"harness: {backend.name}: the kept server is in use by another run; "
            "this run starts its own (not kept)"
        )
        result = provision(run.registry, backend, run.config.launcher, ctx)
        result.obtained = "started, not kept: the kept one is in use by another run"
        return result
    try:
        if not backend.needs_server:
            result = _embedded(run, backend, ctx, directory, started)

            def unlock() -> list[str]:
                lock.release()
                return []

            run.before_release.append(unlock)
            return result
        return _on_server(run, backend, ctx, directory, lock, started)
    except BaseException:
        lock.release()
        raise


def _migrate(run: HarnessRun, backend: Backend, url: URL) -> None:
    """Migrate the (empty) template database at *url*; `MigrationError` if that fails."""
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import NullPool

    from harness.migrations.runner import migrate
    from harness.run.provision import _run
    from harness.run.template import schema_source

    alembic_ini, metadata = schema_source(run)

    async def upgrade() -> None:
        # No pool, disposed before returning: PostgreSQL copies a template only while no
        # one is connected to it.
        engine = create_async_engine(url, poolclass=NullPool)
        backend.prepare_engine(engine)
        try:
            await migrate(engine, backend=backend.name, alembic_ini=alembic_ini, metadata=metadata)
        finally:
            await engine.dispose()

    with _MIGRATING:
        run.export_this_url(url)
        _run(upgrade)


def _embedded(
    run: HarnessRun, backend: Backend, ctx: LaunchContext, directory: Path, started: float
) -> Provisioned:
    """An embedded backend (SQLite): a copy of the kept template file, rebuilt if stale."""
    from harness.run.provision import _run, _with_admin

    copy = getattr(backend, "clone_embedded", None)
    if copy is None:  # nothing to copy a template with: as without --harness-reuse
        return provision(run.registry, backend, run.config.launcher, ctx)
    template_dir = directory / "template"
    template_dir.mkdir(mode=0o700, exist_ok=True)
    base_url = backend.embedded_url(template_dir)
    url = run.with_driver(backend.name, base_url)
    version = _run(lambda: _with_admin(url, backend.server_version))
    now = fingerprint(run, url, version)
    record = kept.read(directory)
    stale = "nothing kept yet" if record is None else why_stale(record.fingerprint, now)
    if stale is not None:
        kept.forget(directory)
        kept.remove(template_dir)
        template_dir.mkdir(mode=0o700)
        if record is not None:
            run.progress(f"harness: {backend.name}: {stale}: rebuilding the kept template")
        _migrate(run, backend, url)
        kept.write(directory, kept.Record(backend=backend.name, fingerprint=now, template=str(url)))
    obtained = (
        "reused (kept template file, current)"
        if stale is None
        else (
            "template file made, kept for reuse" if record is None else f"template rebuilt: {stale}"
        )
    )
    return Provisioned(
        backend=backend,
        url=copy(base_url, ctx.workdir),
        version=version,
        launcher="file",
        description="temp file, copied from the kept template",
        ready_seconds=time.perf_counter() - started,
        migrated=True,
        obtained=obtained,
    )


def _kept_problem(registry: Registry, record: kept.Record, ctx: LaunchContext) -> str | None:
    """Why the kept server of *record* cannot serve this run, or None."""
    launcher = registry.launcher(record.launcher, record.backend)
    if launcher is None or getattr(launcher, "kept_problem", None) is None:
        return f"was kept by the launcher {record.launcher!r}, which is not available"
    problem: str | None = launcher.kept_problem(record.data, ctx)  # type: ignore[attr-defined]
    return problem


def _on_server(
    run: HarnessRun,
    backend: Backend,
    ctx: LaunchContext,
    directory: Path,
    lock: kept.Lock,
    started: float,
) -> Provisioned:
    launcher_name = run.config.launcher
    if ctx.options.get("url") or launcher_name == "external":
        # A server the user gives is used as it is: nothing to keep, nothing kept touched.
        lock.release()
        return provision(run.registry, backend, launcher_name, ctx)
    record = kept.read(directory)
    if record is not None and not record.url:
        record = None
    if record is not None and launcher_name not in ("auto", record.launcher):
        run.progress(
            f"harness: {backend.name}: the kept server is the {record.launcher} launcher's and "
            f"this run asks for {launcher_name}: this run starts its own (not kept)"
        )
        lock.release()
        return provision(run.registry, backend, launcher_name, ctx)
    if record is not None:
        problem = _kept_problem(run.registry, record, ctx)
        if problem is not None:
            run.progress(f"harness: {backend.name}: the kept server {problem}: starting a new one")
            discard(run.registry, directory, record)
            record = None
    if record is not None:
        try:
            return _reattach(run, backend, ctx, directory, lock, record, started)
        except _Unreachable as exc:
            run.progress(
                f"harness: {backend.name}: the kept server does not answer ({exc}): "
                "starting a new one"
            )
            discard(run.registry, directory, record)
    return _start_and_keep(run, backend, ctx, directory, lock, started)


class _Unreachable(Exception):
    """The kept server runs but does not take connections."""


def _kept_server(record: kept.Record, url: URL, lock: kept.Lock) -> Server:
    """The kept server as this run sees it: not owned (only our database is dropped at the
    end), and "stopping" it releases the lock."""
    return Server(
        url=url,
        launcher=record.launcher,
        description=record.description,
        owned=False,
        stop=lock.release,
    )


def _reattach(
    run: HarnessRun,
    backend: Backend,
    ctx: LaunchContext,
    directory: Path,
    lock: kept.Lock,
    record: kept.Record,
    started: float,
) -> Provisioned:
    """This run's database on the kept server: cloned from the template, rebuilt if stale."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from harness.run.clone import copy_template
    from harness.run.provision import _run, _with_admin

    server_url = make_url(record.url)
    database = f"harness_{ctx.run_id}"
    template_url = run.with_driver(backend.name, backend.database_url(server_url, TEMPLATE))
    make = copy_template(backend, TEMPLATE, database)
    now = fingerprint(run, template_url, "")
    found: dict[str, str | None] = {}

    async def warm(conn: AsyncConnection) -> bool | None:
        # One trip for the usual case: the version, and the copy if the template is current
        # (the spare an earlier run made from it, if there is one: a rename, not a copy).
        now["server"] = await backend.server_version(conn)
        found["stale"] = stale = why_stale(record.fingerprint, now)
        if stale:
            return None
        return await spare.take(backend, conn, record, database) or await make(conn)

    try:
        migrated = _run(lambda: _with_admin(server_url, warm))
    except (SQLAlchemyError, OSError) as exc:
        from harness.run.provision import describe_error

        raise _Unreachable(describe_error(exc, server_url)) from None
    obtained = REUSED
    if migrated is None:
        stale = found["stale"]
        run.progress(f"harness: {backend.name}: {stale}: rebuilding the kept template")
        record.fingerprint, record.spare = {}, ""
        kept.write(directory, record)  # a rebuild cut short leaves no template taken as current
        try:
            migrated = _build_template(run, backend, server_url, template_url, database)
        except HarnessError as exc:
            # The run's database stays empty: db_engine migrates it and fails that backend's
            # tests with this error as without --harness-reuse; the next run rebuilds.
            run.progress(f"harness: {backend.name}: the template could not be rebuilt: {exc}")
            _run(lambda: _with_admin(server_url, _empty(backend, database)))
            migrated = False
            obtained = f"reused server, template not rebuilt: {stale}"
        else:
            record.fingerprint = now
            kept.write(directory, record)
            obtained = f"reused server, template rebuilt: {stale}"
    spare.prepare(run, backend, server_url, directory, record, TEMPLATE if migrated else None)
    return Provisioned(
        backend=backend,
        url=backend.database_url(server_url, database),
        version=now["server"],
        launcher=record.launcher,
        description=record.description,
        server=_kept_server(record, server_url, lock),
        database=database,
        ready_seconds=time.perf_counter() - started,
        migrated=migrated,
        obtained=obtained,
        leave=functools.partial(spare.leave, directory, record),
    )


def _empty(backend: Backend, name: str) -> Callable[[AsyncConnection], Coroutine[Any, Any, None]]:
    async def make(conn: AsyncConnection) -> None:
        await backend.drop_database(conn, name)
        await backend.create_database(conn, name)

    return make


def _build_template(
    run: HarnessRun, backend: Backend, server_url: URL, template_url: URL, database: str
) -> bool:
    """(Re)create and migrate the template, then copy it to *database*; True if migrated."""
    from harness.run.clone import copy_template
    from harness.run.provision import _run, _with_admin

    _run(lambda: _with_admin(server_url, _empty(backend, TEMPLATE)))
    _migrate(run, backend, template_url)
    return _run(lambda: _with_admin(server_url, copy_template(backend, TEMPLATE, database)))


def _start_and_keep(
    run: HarnessRun,
    backend: Backend,
    ctx: LaunchContext,
    directory: Path,
    lock: kept.Lock,
    started: float,
) -> Provisioned:
    """Start a server, build the template on it, and keep both for the next run."""
    # The marker exists before the server does: a container carries it as a label.
    marker = directory / f"marker-{secrets.token_hex(4)}"
    marker.touch(mode=0o600)
    try:
        launcher, server = start_server(
            run.registry, backend, run.config.launcher, dataclasses.replace(ctx, keep_marker=marker)
        )
    except BaseException:
        marker.unlink(missing_ok=True)
        raise
    if server.keep is None:
        marker.unlink(missing_ok=True)
        run.progress(
            f"harness: {backend.name}: the {launcher.name} launcher cannot keep a server: "
            "nothing is kept for this backend"
        )
        lock.release()
        return provision_on(backend, launcher.name, server, ctx, started)
    try:
        result = provision_on(backend, launcher.name, server, ctx, started)
        assert result.database is not None
        template_url = run.with_driver(backend.name, backend.database_url(server.url, TEMPLATE))
        try:
            migrated = _build_template(run, backend, server.url, template_url, result.database)
        except HarnessError as exc:
            # Not kept: the run's own (empty) database is migrated by db_engine, which fails
            # that backend's tests with this error as without --harness-reuse.
            run.progress(f"harness: {backend.name}: the template was not kept: {exc}")
            marker.unlink(missing_ok=True)
            lock.release()
            return result
        now = fingerprint(run, template_url, result.version)
        data = server.keep(marker)
        record = kept.Record(
            backend=backend.name,
            fingerprint=now,
            launcher=launcher.name,
            url=server.url.render_as_string(hide_password=False),
            description=server.description,
            template=TEMPLATE,
            data=data,
        )
        kept.write(directory, record)
    except BaseException:
        marker.unlink(missing_ok=True)
        server.stop()
        raise
    spare.prepare(run, backend, server.url, directory, record, TEMPLATE if migrated else None)
    result.leave = functools.partial(spare.leave, directory, record)
    kept_server = _kept_server(record, server.url, lock)
    kept_server.died = server.died
    result.server = kept_server
    result.migrated = migrated
    result.obtained = STARTED
    result.ready_seconds = time.perf_counter() - started
    return result
