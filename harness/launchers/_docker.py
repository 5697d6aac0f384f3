"""The Docker engine: where it is, whether it answers, the harness's labels, its leftovers."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import socket
from typing import Any
from urllib.parse import urlsplit

#: Labels on every container this launcher starts. ``LABEL`` marks it as the harness's;
#: the owner labels let a later run remove what a killed run left (see `sweep_leftovers`).
LABEL = "pytest-harness"
LABEL_BACKEND = "pytest-harness.backend"
LABEL_RUN_ID = "pytest-harness.run-id"
LABEL_OWNER_PID = "pytest-harness.owner-pid"
LABEL_OWNER_HOST = "pytest-harness.owner-host"
#: on a container kept for later runs (``--harness-reuse``): the marker file that holds it;
#: the sweep leaves it running while that file exists, whoever started it
LABEL_KEEPER = "pytest-harness.keeper"

#: How long `ContainersLauncher.unavailable_reason` waits for the Docker engine to answer:
#: ``auto`` asks before every session, and a daemon that is down refuses at once anyway.
PING_TIMEOUT = 2.0
#: Timeout of the Docker API calls that start and remove containers (not of the wait for
#: the server inside, which testcontainers bounds itself).
API_TIMEOUT = 60


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, it is just someone else's
        return True
    return True


def _short(exc: BaseException) -> str:
    """The first line of an exception, for messages that must stay one line."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _is_local_engine(base_url: str) -> bool:
    """Whether the Docker API at *base_url* runs on this machine (so 127.0.0.1 reaches it)."""
    parts = urlsplit(base_url)
    if parts.scheme in ("http+unix", "unix", "npipe", "http+docker"):
        return True
    return parts.hostname in ("localhost", "127.0.0.1", "::1")


def _docker_module(name: str = "docker") -> Any:
    """The Docker SDK (a testcontainers dependency), or one of its modules, imported late.

    Typed Any on purpose: the SDK ships no type information, and a static import would let
    mypy take this repository's ``docker/`` directory (image build files) for the package.
    """
    return importlib.import_module(name)


def docker_host() -> str:
    """The Docker API address testcontainers will use.

    That is ``DOCKER_HOST``, else ``tc.host`` in ``~/.testcontainers.properties``, else the
    current ``docker context`` (as testcontainers resolves it), else the local socket.
    """
    try:
        from testcontainers.core.docker_client import get_docker_host
    except ImportError:  # not installed (reported elsewhere), or a version without it
        found = os.environ.get("DOCKER_HOST")
    else:
        found = get_docker_host()
    if found:
        return str(found)
    return "npipe:////./pipe/docker_engine" if os.name == "nt" else "unix:///var/run/docker.sock"


def docker_client(timeout: float) -> Any:
    """A Docker SDK client for `docker_host`, with *timeout* on each API call."""
    docker = _docker_module()
    if os.environ.get("DOCKER_HOST"):
        return docker.from_env(timeout=timeout)  # also takes DOCKER_TLS_VERIFY and friends
    return docker.DockerClient(base_url=docker_host(), timeout=timeout)


def _ping_unix_socket(path: str) -> str | None:
    """Ask the engine behind a Unix socket for ``/_ping``; why it did not answer, or None.

    A raw request rather than the Docker SDK: the SDK leaks its socket when the connection
    is refused (a stale socket file of a stopped engine), and under ``-W error`` that
    ResourceWarning would fail the user's run instead of choosing another launcher.
    """
    if not os.path.exists(path):
        return f"Docker is not reachable (no socket at {path})"
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(PING_TIMEOUT)
            sock.connect(path)
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            status_line = sock.recv(128).split(b"\r\n", 1)[0].decode("latin-1")
    except OSError as exc:
        return f"Docker is not reachable ({path}: {exc.strerror or _short(exc)})"
    if status_line.split(" ")[1:2] != ["200"]:
        return f"Docker is not reachable ({path} answered {status_line or 'nothing'!r})"
    return None


def sweep_leftovers(client: Any, *, hostname: str | None = None) -> list[str]:
    """Remove the harness containers of this machine whose owner process is gone.

    Only containers labelled with this host's name are considered: another machine (or
    another container sharing this Docker socket) has its own process ids, and its live
    containers must not be taken for leftovers. Returns the names of what was removed.
    """
    errors = _docker_module("docker.errors")
    hostname = hostname or socket.gethostname()
    removed = []
    filters = {"label": [f"{LABEL}=1", f"{LABEL_OWNER_HOST}={hostname}"]}
    for container in client.containers.list(all=True, filters=filters):
        try:
            pid = int(container.labels.get(LABEL_OWNER_PID, ""))
        except ValueError:
            continue  # not one we can judge: leave it
        if _pid_alive(pid):
            continue
        keeper = container.labels.get(LABEL_KEEPER)
        if keeper and os.path.isabs(keeper) and os.path.exists(keeper):
            continue  # kept for later runs, and still wanted
        # Another process (an xdist sibling) may be removing the same one right now.
        with contextlib.suppress(errors.NotFound, errors.APIError):
            container.remove(force=True, v=True)
            removed.append(container.name)
    return removed
