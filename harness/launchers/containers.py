"""The ``containers`` launcher: a throwaway database server in a container, via testcontainers."""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import importlib.util
import os
import secrets
import socket
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from harness.errors import ServerError, mask
from harness.launchers import _containers_keep
from harness.launchers._containers_parts import (
    LOOPBACK,
    _log_tail,
    _published_port,
    _quick_polling,
    _stopper,
)
from harness.launchers._docker import (
    API_TIMEOUT,
    LABEL,
    LABEL_BACKEND,
    LABEL_KEEPER,
    LABEL_OWNER_HOST,
    LABEL_OWNER_PID,
    LABEL_RUN_ID,
    PING_TIMEOUT,
    _docker_module,
    _is_local_engine,
    _ping_unix_socket,
    _short,
    docker_client,
    docker_host,
    sweep_leftovers,
)
from harness.launchers.base import LaunchContext, LauncherUnavailable, Server
from harness.registry import Registry

if TYPE_CHECKING:
    from pathlib import Path

    from sqlalchemy.engine import URL

    from harness.backends.base import Backend

#: The image each backend runs when none is configured (``--harness-image BACKEND=IMAGE``,
#: ``HARNESS_<BACKEND>_IMAGE`` or the ini key ``harness_image_<backend>``). Official images,
#: major version pinned so a new release never changes a suite's server under it.
#: ``mysql`` runs MariaDB: it is what this project proves in CI (its Docker lane and the
#: ``local`` launcher both run Debian's MariaDB), its official image takes the same
#: ``MYSQL_*`` variables and logs "ready for connections" the same way, so testcontainers'
#: ``MySqlContainer`` drives it unchanged. ``--harness-image mysql=mysql:8.4`` gives MySQL.
DEFAULT_IMAGES: Mapping[str, str] = {"postgresql": "postgres:16", "mysql": "mariadb:11.4"}


_NOT_REACHABLE_HINT = (
    "Start Docker, or run with --harness-launcher=local, or give --harness-url {backend}=..."
)


def _url(drivername: str, **parts: Any) -> URL:
    from sqlalchemy.engine import URL  # imported when a URL is made, not with the plugin

    return URL.create(drivername, **parts)


@dataclasses.dataclass(frozen=True)
class _Recipe:
    """How one backend's server runs in a container: the testcontainers class and the URL."""

    #: the port the server listens on inside the container
    port: int
    #: build the (not yet started) testcontainers object for *image*
    make: Callable[[str, str, dict[str, str]], Any]
    #: the admin URL for a server published on ``LOOPBACK:port`` with *password*
    url: Callable[[int, str], URL]


def _postgres_container(image: str, password: str, labels: dict[str, str]) -> Any:
    try:
        from testcontainers.community.postgres import PostgresContainer
    except ImportError:  # testcontainers before 4.14 kept its modules at the top level
        from testcontainers.postgres import PostgresContainer
    container = PostgresContainer(
        image, username="harness", password=password, dbname="postgres", labels=labels
    )
    # Durability is wasted on a server thrown away at session end; the official image
    # (and the lane's) pass these to the server as the official entrypoint documents.
    off = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")
    return container.with_command(["postgres", *(arg for o in off for arg in ("-c", o))])


def _mysql_container(image: str, password: str, labels: dict[str, str]) -> Any:
    try:
        from testcontainers.community.mysql import MySqlContainer
    except ImportError:  # testcontainers before 4.14 kept its modules at the top level
        from testcontainers.mysql import MySqlContainer
    # As root the admin URL may create and drop databases; MYSQL_DATABASE is still
    # required by the class, and costs one empty database.
    container = MySqlContainer(
        image, username="root", password=password, dbname="harness", labels=labels
    )
    # Same reasoning as PostgreSQL: no flush per commit and no binary log (MySQL 8 has it
    # on by default). Options starting with "-" go to the server in the official images.
    return container.with_command(["--innodb-flush-log-at-trx-commit=2", "--skip-log-bin"])


_RECIPES: Mapping[str, _Recipe] = {
    "postgresql": _Recipe(
        port=5432,
        make=_postgres_container,
        url=lambda port, password: _url(
            "postgresql+asyncpg",
            username="harness",
            password=password,
            host=LOOPBACK,
            port=port,
            database="postgres",
        ),
    ),
    "mysql": _Recipe(
        port=3306,
        make=_mysql_container,
        url=lambda port, password: _url(
            "mysql+aiomysql", username="root", password=password, host=LOOPBACK, port=port
        ),
    ),
}


class ContainersLauncher:
    """Starts each backend's server in a fresh container and removes it at session end.

    Containers carry the labels above, publish their port on 127.0.0.1 only and are
    removed by `Server.stop`. If the test process dies first, testcontainers' reaper
    (Ryuk) removes them when it can run; where it cannot (no registry to pull it from,
    or ``TESTCONTAINERS_RYUK_DISABLED=true``) the next start sweeps them.
    """

    kind: ClassVar[str] = "launcher"
    name: ClassVar[str] = "containers"
    backends: ClassVar[tuple[str, ...]] = tuple(_RECIPES)

    def __init__(self) -> None:
        # `HarnessRun.ensure` starts the backends' servers in parallel threads.
        self._lock = threading.Lock()
        self._ping_result: str | None = None
        self._pinged = False
        self._prepared = False
        self._reaper = "not checked"
        self._swept: list[str] = []

    def unavailable_reason(self, backend: Backend, ctx: LaunchContext) -> str | None:
        hint = _NOT_REACHABLE_HINT.format(backend=backend.name)
        if backend.name not in _RECIPES:
            return f"no container recipe for {backend.name}"
        # find_spec, not import: testcontainers reads its settings when imported.
        if importlib.util.find_spec("testcontainers") is None:
            return (
                "testcontainers is not installed (pip install 'pytest-harness[containers]'). "
                + hint.replace("Start Docker, or", "Or")
            )
        with self._lock:
            if not self._pinged:
                self._ping_result = self._ping()
                self._pinged = True
            reason = self._ping_result
        return None if reason is None else f"{reason}. {hint}"

    def _ping(self) -> str | None:
        """Why the Docker engine does not answer (quickly), or None when it does."""
        host = docker_host()
        if not _is_local_engine(host):
            return (
                f"the Docker engine at {host} is not on this machine, and the containers "
                f"launcher publishes ports on {LOOPBACK} only"
            )
        if host.startswith("unix://"):
            return _ping_unix_socket(host[len("unix://") :])
        try:
            client = docker_client(PING_TIMEOUT)
        except Exception as exc:  # the SDK raises DockerException, or requests' errors
            return f"Docker is not reachable ({_short(exc)})"
        try:
            client.ping()
        except Exception as exc:
            return f"Docker is not reachable ({_short(exc)})"
        finally:
            client.close()
        return None

    def _prepare(self, client: Any, reuse: bool) -> None:
        """Once per process: sweep dead runs' leftovers, then start the reaper if it can run."""
        with self._lock:
            if self._prepared:
                return
            self._prepared = True
            self._swept = sweep_leftovers(client)
            from testcontainers.core.config import testcontainers_config

            if reuse:
                # The reaper removes every container of this process when it exits, kept
                # ones too (a label cannot be taken off a container): none for this run.
                testcontainers_config.ryuk_disabled = True
                self._reaper = "no reaper (--harness-reuse keeps containers); the next run sweeps"
                return
            if testcontainers_config.ryuk_disabled:
                self._reaper = "no reaper (TESTCONTAINERS_RYUK_DISABLED); the next run sweeps"
                return
            from testcontainers.core.container import Reaper

            try:
                Reaper.get_instance()
            except Exception as exc:
                with contextlib.suppress(Exception):
                    Reaper.delete_instance()
                # Without this every container start would try (and fail) again.
                testcontainers_config.ryuk_disabled = True
                self._reaper = (
                    f"no reaper (could not start {testcontainers_config.ryuk_image}: "
                    f"{type(exc).__name__}); the next run sweeps"
                )
            else:
                self._reaper = "Ryuk reaper"

    def _ensure_image(
        self, client: Any, image: str, backend: Backend, ctx: LaunchContext, hint: str
    ) -> None:
        """Pull *image* unless it is here, saying so first: a first pull can take minutes."""
        errors = _docker_module("docker.errors")
        try:
            client.images.get(image)
        except errors.ImageNotFound:
            ctx.progress(f"harness: pulling {image} for {backend.name} (first use)")
            try:
                client.images.pull(image)
            except errors.DockerException as exc:
                raise ServerError(
                    f"{backend.name}: the image {image!r} is not here and could not be "
                    f"pulled ({_short(exc)}). Pull or build it, or: {hint}."
                ) from None

    def start(self, backend: Backend, ctx: LaunchContext) -> Server:
        reason = self.unavailable_reason(backend, ctx)
        if reason is not None:
            raise LauncherUnavailable(reason)
        recipe = _RECIPES[backend.name]
        image = ctx.options.get("image") or DEFAULT_IMAGES[backend.name]
        image_hint = (
            f"Choose another image with --harness-image {backend.name}=IMAGE "
            f"(or HARNESS_{backend.name.upper()}_IMAGE, or the ini key "
            f"harness_image_{backend.name})"
        )
        try:
            client = docker_client(API_TIMEOUT)
            try:
                self._prepare(client, ctx.reuse)
                self._ensure_image(client, image, backend, ctx, image_hint)
            finally:
                client.close()
        except ServerError:
            raise
        except Exception as exc:  # it answered the ping a moment ago
            raise ServerError(
                f"{backend.name}: Docker stopped answering ({_short(exc)}). "
                + _NOT_REACHABLE_HINT.format(backend=backend.name)
            ) from None

        password = secrets.token_urlsafe(18)
        labels = {
            LABEL: "1",
            LABEL_BACKEND: backend.name,
            LABEL_RUN_ID: ctx.run_id,
            LABEL_OWNER_PID: str(os.getpid()),
            LABEL_OWNER_HOST: socket.gethostname(),
        }
        marker = str(ctx.keep_marker) if ctx.keep_marker is not None else None
        if marker is not None and not _reaper_running():
            labels[LABEL_KEEPER] = marker
        container = recipe.make(image, password, labels)
        # testcontainers publishes on every interface and has no option for the address;
        # its `ports` mapping goes to the Docker SDK as is, which takes (address, port).
        container.ports[str(recipe.port)] = (LOOPBACK, None)
        try:
            with _quick_polling():
                container.start()
            port = _published_port(container, recipe.port)
            short_id = str(container.get_wrapped_container().short_id)
        except BaseException as exc:
            logs = _log_tail(container) if isinstance(exc, Exception) else ""
            with contextlib.suppress(Exception):
                container.stop()
            if not isinstance(exc, Exception):
                raise  # KeyboardInterrupt and friends: cleaned up, now let them through
            raise ServerError(
                f"{backend.name}: the container from {image!r} did not become ready: "
                + mask(f"{_short(exc)}. {image_hint}.{logs}", password)
            ) from None
        # The core prints the ready line; only what is unusual is said here.
        if self._swept:
            ctx.progress(
                f"harness: removed {len(self._swept)} leftover container(s) of dead test runs"
            )
        keep = None
        if LABEL_KEEPER in labels:

            def keep(path: Path) -> dict[str, str]:
                # Nothing to hand over: the label already names the marker. The run that
                # keeps it no longer calls `stop`; the sweep removes it once the marker goes.
                return _containers_keep.keep_data(container, backend.name, image, str(path))

        return Server(
            url=recipe.url(port, password),
            launcher=self.name,
            description=f"container {image} {short_id}, {LOOPBACK}:{port}; {self._reaper}",
            stop=_stopper(container),
            keep=keep,
        )

    def kept_problem(self, data: dict[str, str], ctx: LaunchContext) -> str | None:
        """Why the kept container *data* names cannot serve this run (see `_containers_keep`)."""
        backend = data.get("backend", "")
        image = ctx.options.get("image") or DEFAULT_IMAGES.get(backend, "")
        return _containers_keep.kept_problem(data, image)

    discard = staticmethod(_containers_keep.discard)


def _reaper_running() -> bool:
    """True if testcontainers' reaper runs for this process: it would remove a kept container."""
    from testcontainers.core.config import testcontainers_config
    from testcontainers.core.container import Reaper

    return not testcontainers_config.ryuk_disabled and Reaper._instance is not None


def register(registry: Registry) -> None:
    """Add the containers launcher (PostgreSQL and MySQL/MariaDB) to *registry*."""
    registry.register(ContainersLauncher())
