"""The state of one harness run: its configuration, its databases, and their cleanup."""

from __future__ import annotations

import dataclasses
import functools
import os
import threading
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.config import HarnessConfig
from harness.errors import ConfigError, HarnessError
from harness.launchers.base import LaunchContext
from harness.registry import Registry
from harness.run import workdir

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

    from harness.run.provision import Provisioned


@dataclasses.dataclass
class BackendInfo:
    """What the ``db_backend`` fixture gives a test: the backend it runs on."""

    name: str
    #: the test database's URL with the password hidden
    url: str
    #: e.g. "PostgreSQL 15.8"
    version: str
    #: the launcher that provided the server ("file" for SQLite)
    launcher: str

    def __str__(self) -> str:
        return self.name


class HarnessRun:
    """Obtains each backend's database once, on first need, and releases them all at the end."""

    def __init__(
        self,
        config: HarnessConfig,
        registry: Registry,
        *,
        progress: Callable[[str], None],
        rootdir: Path,
    ) -> None:
        from harness.wiring.seen import Redirections

        self.config = config
        self.registry = registry
        self.progress = progress
        self.rootdir = rootdir
        self.run_id = workdir.new_run_id()
        self.provisioned: dict[str, Provisioned] = {}
        self.failures: dict[str, HarnessError] = {}
        self._workdir: Path | None = None
        self._lock = threading.Lock()
        #: what the app's code had redirected to the tests' transactions
        self.redirections = Redirections()
        self._apps: dict[str, object] = {}
        #: per backend: migrate its database again (the guard's reset after a leak)
        self.remigrate: dict[str, Callable[[], Awaitable[object]]] = {}
        #: per backend: the migrated schema as transactional tests see it (read on first use)
        self.baselines: dict[str, Any] = {}
        #: environment variables this run set (``harness_url_env``), with their old values
        self._saved_env: dict[str, str | None] = {}
        #: on an xdist worker: obtains a backend's database from the controller's server
        #: instead of starting one (see `harness.run.xdist`)
        self.provider: Callable[[str], Provisioned] | None = None
        #: called by `close` before the databases are released; each returns its problems
        self.before_release: list[Callable[[], list[str]]] = []

    @property
    def workdir(self) -> Path:
        with self._lock:
            if self._workdir is None:
                # Made (and its root checked to be ours) before the sweep touches anything.
                self._workdir = workdir.create_run_dir()
                workdir.sweep_stale_runs()
            return self._workdir

    def use_workdir(self, path: Path) -> None:
        """Keep this run's files in *path* (an xdist worker's, inside the controller's)."""
        with self._lock:
            self._workdir = path

    def _context(self, backend: str) -> LaunchContext:
        return LaunchContext(
            workdir=self.workdir,
            options=self.config.options_for(backend),
            progress=self.progress,
            run_id=self.run_id,
            reuse=self.config.reuse,
        )

    def _provision_one(self, name: str) -> Provisioned:
        from harness.run.provision import provision

        backend = self.registry.backend(name)
        if self.provider is not None:
            result = self.provider(name)
            with self._lock:
                self.provisioned[name] = result
            return result
        if self.config.reuse:
            from harness.run.reuse import provision_reusing

            result = provision_reusing(self, backend, self._context(name))
        else:
            result = provision(self.registry, backend, self.config.launcher, self._context(name))
        with self._lock:
            self.provisioned[name] = result
        if backend.needs_server:
            # The one progress line per backend: launchers print only what is unusual.
            self.progress(
                f"harness: {name} ready in {result.ready_seconds:.1f}s via {result.launcher} "
                f"({result.version})"
            )
        return result

    def ensure(self, names: Iterable[str]) -> None:
        """Provision every backend in *names* not yet provisioned, servers in parallel.

        A backend that fails is remembered (its tests error with the same message) and the
        first failure is raised once all have finished, so nothing is left half-started.
        """
        todo = [n for n in dict.fromkeys(names) if n not in self.provisioned]
        todo = [n for n in todo if n not in self.failures]
        if not todo:
            return
        from harness.run.threads import preload

        preload()
        with ThreadPoolExecutor(max_workers=len(todo), thread_name_prefix="harness") as pool:
            futures = {name: pool.submit(self._provision_one, name) for name in todo}
        for name, future in futures.items():
            exc = future.exception()
            if isinstance(exc, HarnessError):
                self.failures[name] = exc
            elif exc is not None:
                raise exc
        for name in todo:
            if name in self.failures:
                raise self.failures[name]

    def get(self, name: str) -> Provisioned:
        if name in self.failures:
            raise self.failures[name]
        if name not in self.provisioned:
            self.ensure([name])
        return self.provisioned[name]

    def info(self, name: str) -> BackendInfo:
        p = self.get(name)
        return BackendInfo(name=name, url=p.masked_url, version=p.version, launcher=p.launcher)

    def app(self, spec: str) -> Any:
        """The app named by *spec*, resolved (a factory called) once for the whole run."""
        if spec not in self._apps:
            from harness.wiring.app import resolve_app

            self._apps[spec] = resolve_app(spec)
        return self._apps[spec]

    def _set_env(self, value: str) -> None:
        for name in self.config.url_env:
            self._saved_env.setdefault(name, os.environ.get(name))
            os.environ[name] = value

    def export_placeholder_url(self) -> None:
        """Give ``harness_url_env`` a URL of the first backend's kind before the app imports.

        Settings that require a URL can then be built at import (collection) time; the real
        URL replaces it when that backend's database exists (`export_url`), and sessions the
        app makes on an engine built from the placeholder are redirected anyway.
        """
        if self.config.url_env:
            backend = self.registry.backend(self.config.backends[0])
            drivername = getattr(backend, "drivername", None)
            if drivername:
                self._set_env(placeholder_url(drivername))

    def engine_url(self, name: str) -> URL:
        """The URL the tests' engine uses on backend *name*: its driver, if one was chosen."""
        return self.with_driver(name, self.get(name).url)

    def with_driver(self, name: str, url: URL) -> URL:
        """*url* (a database of backend *name*) with the driver chosen for the tests, if any."""
        from sqlalchemy.exc import ArgumentError

        driver = self.config.options_for(name).get("driver")
        if not driver:
            return url
        drivername = driver if "+" in driver else f"{url.get_backend_name()}+{driver}"
        chosen = url.set(drivername=drivername)
        try:
            chosen.get_dialect().import_dbapi()
        except (ImportError, ArgumentError) as exc:
            raise ConfigError(
                f"{name}: driver {driver!r} cannot be used ({type(exc).__name__}: {exc}); "
                f"install it, or choose another with --harness-driver {name}=..."
            ) from None
        return chosen

    def export_url(self, name: str) -> None:
        """Set ``harness_url_env`` to backend *name*'s test database URL (password included)."""
        if self.config.url_env:
            self._set_env(self.engine_url(name).render_as_string(hide_password=False))

    def export_this_url(self, url: URL) -> None:
        """Set ``harness_url_env`` to *url* (a template being migrated), password included."""
        if self.config.url_env:
            self._set_env(url.render_as_string(hide_password=False))

    def close(self) -> list[str]:
        """Release every database and server, then the work dir; return problems met."""
        for env_name, old in self._saved_env.items():
            if old is None:
                os.environ.pop(env_name, None)
            else:
                os.environ[env_name] = old
        self._saved_env.clear()
        steps = list(self.before_release)
        if self.provisioned:
            from harness.run.provision import release

            steps += [
                functools.partial(release, provisioned)
                for provisioned in reversed(list(self.provisioned.values()))
            ]
        problems: list[str] = []
        interrupted: BaseException | None = None
        for step in steps:  # the steps before release read what is provisioned: cleared after
            try:
                problems.extend(step())
            except BaseException as exc:  # Ctrl-C while closing: the rest is released still
                interrupted = interrupted or exc
        self.before_release.clear()
        self.provisioned.clear()
        if self._workdir is not None:
            workdir.remove_run_dir(self._workdir)
            self._workdir = None
        if interrupted is not None:
            raise interrupted
        return problems


def placeholder_url(drivername: str) -> str:
    """A URL of *drivername*'s kind that names no real database (SQLite: in memory)."""
    if drivername.startswith("sqlite"):
        return f"{drivername}://"
    return f"{drivername}://harness@127.0.0.1/harness_pending"
