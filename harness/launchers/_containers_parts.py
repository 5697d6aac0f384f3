"""The containers launcher's helpers around testcontainers: quicker readiness polling, the
published port, a failed container's log tail, and removing a container once."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

from harness.errors import ServerError
from harness.launchers._docker import _docker_module, _short

#: Ports are published on this address only: a test server with a throwaway password
#: must not be reachable from the network.
LOOPBACK = "127.0.0.1"


class _QuickPolling:
    """Make testcontainers poll for readiness every 0.1 s (not 1 s) while servers start.

    Its wait strategies read the interval from its process-wide configuration when they
    are made, inside ``start()``; at 1 s a server ready after 1.2 s is seen at 2 s or
    later, which is most of a session's start-up. The timeout stays the same. Servers
    start in parallel threads, so the first one in sets the interval and the last one out
    restores it. An interval the user set (``TC_POOLING_INTERVAL``) is left alone.
    """

    INTERVAL = 0.1

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._saved: tuple[float, int] | None = None

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        if "TC_POOLING_INTERVAL" in os.environ:
            yield
            return
        from testcontainers.core.config import testcontainers_config as config

        with self._lock:
            if self._users == 0:
                self._saved = (config.sleep_time, config.max_tries)
                timeout = config.sleep_time * config.max_tries
                config.sleep_time = self.INTERVAL
                config.max_tries = max(1, round(timeout / self.INTERVAL))
            self._users += 1
        try:
            yield
        finally:
            with self._lock:
                self._users -= 1
                if self._users == 0 and self._saved is not None:
                    config.sleep_time, config.max_tries = self._saved
                    self._saved = None


_quick_polling = _QuickPolling()


def _published_port(container: Any, port: int) -> int:
    """The host port that *port* of the started *container* is published on, on LOOPBACK."""
    # Ask the engine, not testcontainers' connection-mode logic: that may answer with a
    # bridge address or the unmapped port when it believes it runs inside a container.
    api = container.get_docker_client().client.api
    for mapping in api.port(container.get_container_id(), port) or ():
        if mapping.get("HostIp") == LOOPBACK:
            return int(mapping["HostPort"])
    raise ServerError(f"port {port} of the container is not published on {LOOPBACK}")


def _log_tail(container: Any, lines: int = 15) -> str:
    """The end of a failed container's log, indented, to quote in an error ("" if none)."""
    try:
        raw = container.get_wrapped_container().logs(tail=lines)
    except Exception:
        return ""
    text = raw.decode("utf-8", "replace").rstrip()
    if not text:
        return ""
    return "\nThe container's last log lines:\n" + "\n".join(
        f"    {line}" for line in text.splitlines()
    )


def _stopper(container: Any) -> Callable[[], None]:
    """`Server.stop` for *container*: remove it (and its volumes); a second call is a no-op."""
    done = threading.Event()

    def stop() -> None:
        if done.is_set():
            return
        done.set()
        errors = _docker_module("docker.errors")

        try:
            container.stop()  # testcontainers' stop removes the container, forcibly
        except errors.NotFound:
            # Already gone (the reaper, or someone with `docker rm`); testcontainers
            # skipped closing its client on the way out, so close it here.
            with contextlib.suppress(Exception):
                container.get_docker_client().client.close()
        except errors.DockerException as exc:
            raise ServerError(f"could not remove the container: {_short(exc)}") from None

    return stop
