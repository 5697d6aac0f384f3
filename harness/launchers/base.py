"""The interface every launcher implements: how a server for a backend is obtained."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar, Protocol, runtime_checkable

if TYPE_CHECKING:
    from pathlib import Path

    from sqlalchemy.engine import URL

    from harness.backends.base import Backend


class LauncherUnavailable(Exception):
    """This launcher cannot serve this backend here; the message says why (and what to do)."""


@dataclasses.dataclass
class LaunchContext:
    """What a launcher is given besides the backend."""

    #: a private directory for this pytest process; removed at session end
    workdir: Path
    #: per-backend options from the configuration (``harness_url_<backend>``,
    #: ``harness_image_<backend>``, ...): keys without the backend suffix, e.g. ``{"url": ...}``
    options: dict[str, str]
    #: print one line of progress to the terminal (no newline needed)
    progress: Callable[[str], None]
    #: an id unique to this pytest process (and xdist worker), for names and labels
    run_id: str
    #: True when the run keeps servers for later runs (``--harness-reuse``): the containers
    #: launcher then starts no reaper, which would remove a kept container with the run
    reuse: bool = False
    #: set when the server about to start is to be kept (`Server.keep` will be called with
    #: this marker file): a launcher that must know at start, for a container's labels
    keep_marker: Path | None = None


@dataclasses.dataclass
class Server:
    """A running server (or one someone else runs) that the harness may create databases on."""

    #: a URL with the async driver and admin rights: it may create and drop databases.
    #: It carries the password: render it with ``url.render_as_string(hide_password=True)``.
    url: URL
    #: the launcher that served it, for the report header
    launcher: str
    #: short human description, e.g. "local /usr/lib/postgresql/15/bin, 127.0.0.1:54321"
    description: str
    #: called once at session end; must not raise for an already-stopped server
    stop: Callable[[], None] = lambda: None
    #: True when stop() removes the server with every database on it (a private server);
    #: False for a server someone else runs: the harness drops the database it created
    #: there, and touches nothing else
    owned: bool = True
    #: None while the server runs; once it is known to have died, what happened (its exit
    #: status, the last lines of its log). Launchers that cannot tell leave the default:
    #: the harness then probes the server's port.
    died: Callable[[], str | None] = lambda: None
    #: launchers that can keep a server for later runs (``--harness-reuse``) set this: it
    #: hands the server to the marker file at the given path (it then outlives this process
    #: while the marker exists, and `stop` no longer stops it) and returns what the
    #: launcher's ``kept_problem`` and ``discard`` need to find it again (plain strings)
    keep: Callable[[Path], dict[str, str]] | None = None


@runtime_checkable
class Launcher(Protocol):
    """A way of obtaining a server for one or more backends."""

    kind: ClassVar[str]  # always "launcher"
    #: the value of ``--harness-launcher`` that selects it: "local", "containers", "external"
    name: ClassVar[str]
    #: the backend names it can serve
    backends: ClassVar[tuple[str, ...]]

    def unavailable_reason(self, backend: Backend, ctx: LaunchContext) -> str | None:
        """Return why this launcher cannot serve *backend* here, or None if it can.

        Must be quick (no server start): ``auto`` calls it to choose a launcher.
        """

    def start(self, backend: Backend, ctx: LaunchContext) -> Server:
        """Start (or connect to) a server and return it once it accepts connections.

        Raise `LauncherUnavailable` or `harness.errors.ServerError` with an actionable
        message; never leave a process, container or directory behind on failure.
        """

    # Optional, found with getattr, for launchers whose servers set `Server.keep`:
    #
    # def kept_problem(self, data: dict[str, str], ctx: LaunchContext) -> str | None
    #     why the server kept as *data* (what `Server.keep` returned) cannot serve this run
    #     (it died, its binaries or image changed), or None; quick: no database connection
    # def discard(self, data: dict[str, str]) -> None
    #     stop and remove the server kept as *data* (no error if it is gone already)
