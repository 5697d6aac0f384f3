"""What the ``local`` launchers share: finding binaries, one server's life, the start sequence."""

from __future__ import annotations

import abc
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

import harness
from harness.backends.base import Backend
from harness.errors import ServerError
from harness.launchers._local_keep import discard, hold_until_exit, keep, kept_problem
from harness.launchers._local_process import (
    Account,
    ProcessRef,
    free_port,
    server_env,
    service_account,
    stop_process,
)
from harness.launchers._local_state import (
    State,
    make_server_dir,
    remove_tree,
    sweep,
    write_state,
)
from harness.launchers.base import LaunchContext, LauncherUnavailable, Server

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

#: how long a server may take from spawn to accepting connections
READY_TIMEOUT = 60.0
#: how long an install step (initdb, mariadb-install-db) may take
TOOL_TIMEOUT = 120.0
#: how many free ports to try when another process grabs ours between probe and bind
PORT_ATTEMPTS = 3
#: how many lines of the server log an error quotes
LOG_TAIL_LINES = 15


def find_executable(names: Sequence[str], directories: Iterable[Path]) -> Path | None:
    """The first of *names* on PATH, else in *directories* (in order); symlinks resolved.

    Resolving matters: Debian and Homebrew link the binaries from elsewhere, and the tools
    that come with a server are found next to the real file, not next to the link.
    """
    for name in names:
        found = shutil.which(name)
        if found:
            return Path(found).resolve()
    for directory in directories:
        for name in names:
            candidate = directory / name
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return candidate.resolve()
    return None


def by_version_desc(paths: Iterable[Path]) -> list[Path]:
    """*paths* sorted so the highest version number in them comes first (15 before 9.6)."""

    def key(path: Path) -> tuple[int, ...]:
        numbers = re.findall(r"\d+", str(path))
        return tuple(int(n) for n in numbers) or (-1,)

    return sorted(paths, key=key, reverse=True)


def glob_dirs(patterns: Iterable[str]) -> list[Path]:
    """Existing directories matching absolute glob *patterns*, highest version first each."""
    found: list[Path] = []
    for pattern in patterns:
        found.extend(by_version_desc(p for p in Path("/").glob(pattern.lstrip("/")) if p.is_dir()))
    return found


def tool_output(argv: Sequence[str | Path]) -> str:
    """The stdout of a quick informational command (``--version``), or "" if it fails."""
    try:
        return subprocess.run(
            [str(a) for a in argv],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
            env=server_env(),
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


class LocalServerProcess:
    """One local server from its private directory's creation to its removal.

    Everything it starts runs as *account* (when pytest is root) in that directory; the
    state file there records the owner (this process) and the server's PID, and a watchdog
    process removes both if this process dies without calling `stop`.
    """

    def __init__(
        self, backend: str, account: Account | None, stop_signal: int, secret: str
    ) -> None:
        self.backend = backend
        self.account = account
        self._secret = secret
        self.directory = make_server_dir(backend, account)
        self.log_path = self.directory / "server.log"
        self._popen: subprocess.Popen[bytes] | None = None
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._stopped = False
        self._kept = False
        owner = ProcessRef.of(os.getpid())
        assert owner is not None  # we are running
        self.state = State(backend=backend, owner=owner, stop_signal=stop_signal)
        try:
            write_state(self.directory, self.state)
            self.log_path.touch(mode=0o600)
            self._watchdog = self._start_watchdog()
            self.state.watchdog = ProcessRef.of(self._watchdog.pid)
            write_state(self.directory, self.state)
        except BaseException:
            self.stop()
            raise

    def _popen_kwargs(self) -> dict[str, Any]:
        """Run children as the service account, in the private directory, clean environment."""
        kwargs: dict[str, Any] = {"cwd": self.directory, "env": server_env(), "close_fds": True}
        if self.account is not None:
            kwargs.update(self.account.popen_kwargs())
        return kwargs

    def _open_log(self) -> IO[bytes]:
        """The log, opened by us and inherited as a descriptor: the account need not own it."""
        return open(self.log_path, "ab")

    def _start_watchdog(self) -> subprocess.Popen[bytes]:
        """Start the watchdog for this directory (see `harness.launchers._watchdog`)."""
        # The child must import this very copy of harness, even when it is not installed
        # (a source checkout on sys.path only through pytest's rootdir handling).
        package_parent = str(Path(harness.__file__).resolve().parent.parent)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (package_parent, env.get("PYTHONPATH", "")) if p
        )
        return subprocess.Popen(
            [sys.executable, "-m", "harness.launchers._watchdog", str(self.directory)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
            # Not the caller's cwd: ``-m`` puts the cwd first on sys.path, and a project's
            # own "harness" directory there would shadow this package.
            cwd=self.directory,
            # Its own session: a Ctrl-C in the terminal must not kill it before the server.
            start_new_session=True,
            close_fds=True,
        )

    def run_tool(self, argv: Sequence[str | Path], what: str) -> None:
        """Run an install step to completion, its output in the log; ServerError if it fails."""
        with self._open_log() as log:
            log.write(f"--- {what}\n".encode())
            log.flush()
            try:
                result = subprocess.run(
                    [str(a) for a in argv],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    timeout=TOOL_TIMEOUT,
                    check=False,
                    **self._popen_kwargs(),
                )
            except subprocess.TimeoutExpired:
                raise self.error(f"{what} did not finish within {TOOL_TIMEOUT:.0f}s") from None
            except OSError as exc:
                raise self.error(f"{what} could not be run: {exc}") from None
        if result.returncode != 0:
            raise self.error(f"{what} failed with exit status {result.returncode}")

    def spawn(self, argv: Sequence[str | Path]) -> None:
        """Start the server process (not waiting for it) and record its PID."""
        with self._open_log() as log:
            log.write(b"--- server\n")
            log.flush()
            self._popen = subprocess.Popen(
                [str(a) for a in argv],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own session: Ctrl-C must not take the server down under the tests;
                # the plugin stops it at the end of the session.
                start_new_session=True,
                **self._popen_kwargs(),
            )
        self.state.server = ProcessRef.of(self._popen.pid)
        write_state(self.directory, self.state)

    def exited(self) -> bool:
        """True if the spawned server has exited (e.g. it could not bind its port)."""
        return self._popen is not None and self._popen.poll() is not None

    def died(self) -> str | None:
        """What happened to the server if it exited while it should run, else None."""
        if self._stopped or self._popen is None:
            return None
        status = self._popen.poll()
        if status is None:
            return None
        how = f"killed by signal {-status}" if status < 0 else f"exited with status {status}"
        lines = [line for line in self.log_text().splitlines() if line.strip()]
        tail = " | ".join(line if len(line) < 120 else line[:120] + "..." for line in lines[-2:])
        return f"{how}; last lines of its log: {tail}" if tail else how

    def stop_server(self) -> None:
        """Stop the spawned server (fast shutdown, then kill by PID) and forget it."""
        if self.state.server is not None:
            stop_process(self.state.server, self.state.stop_signal, popen=self._popen)
        elif self._popen is not None:
            self._popen.wait()  # it exited before its PID could be recorded: just reap it
        self._popen = None
        self.state.server = None
        if self.directory.exists():
            write_state(self.directory, self.state)

    def stop(self) -> None:
        """Stop the server, remove the directory, end the watchdog; safe to call again."""
        with self._lock:
            if self._stopped or self._kept:
                return
            self._stopped = True
        self.stop_server()
        remove_tree(self.directory)
        if self._watchdog is not None:
            # It would notice the directory is gone within a poll; no need to wait for that.
            self._watchdog.terminate()
            self._watchdog.wait()

    def keep(self, marker: Path) -> None:
        """Hand the server to *marker* (`State.keeper`): it and its watchdog outlive us.

        From now on `stop` leaves the server running; the watchdog stops it once this
        process has exited and *marker* is gone.
        """
        with self._lock:
            self._kept = True
        self.state.keeper = str(marker)
        if self.state.watchdog is not None:
            self.state.owner = self.state.watchdog  # see `State.keeper`
        write_state(self.directory, self.state)
        hold_until_exit([p for p in (self._popen, self._watchdog) if p is not None])

    def log_size(self) -> int:
        """The current size of the log, to read only what is written after this point."""
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def log_text(self, since: int = 0) -> str:
        """The log from byte *since*, with the password masked in case a statement echoed it."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(since)
                text = f.read().decode(errors="replace")
        except OSError:
            return ""
        return text.replace(self._secret, "***")

    def error(self, message: str, since: int = 0) -> ServerError:
        """A ServerError for *message*, quoting the last lines of the log."""
        lines = [line for line in self.log_text(since).splitlines() if line.strip()]
        tail = "\n".join(f"    {line}" for line in lines[-LOG_TAIL_LINES:])
        detail = f"\nlast lines of the server log:\n{tail}" if tail else ""
        return ServerError(f"could not start a local {self.backend} server: {message}{detail}")


B = TypeVar("B")


class LocalLauncher(abc.ABC, Generic[B]):
    """The ``local`` launcher's start sequence; a subclass per server product fills it in.

    *B* is what the subclass finds on this machine (the binaries and their version).
    """

    kind: ClassVar[str] = "launcher"
    name: ClassVar[str] = "local"
    backends: ClassVar[tuple[str, ...]]
    #: how the server is asked to shut down quickly (PostgreSQL: SIGINT is "fast" shutdown)
    stop_signal: ClassVar[int] = int(signal.SIGTERM)
    #: log text that means the port was taken between our probe and the server's bind
    port_in_use_markers: ClassVar[tuple[str, ...]] = ("Address already in use",)

    @abc.abstractmethod
    def find(self) -> B:
        """Find the binaries; raise LauncherUnavailable saying what to install if absent."""

    @abc.abstractmethod
    def initialize(self, found: B, server: LocalServerProcess, password: str) -> None:
        """Create the data directory (initdb, install-db) so the server can start."""

    @abc.abstractmethod
    def server_argv(self, found: B, server: LocalServerProcess, port: int) -> list[str]:
        """The command line that runs the server in the foreground on *port*."""

    @abc.abstractmethod
    def is_ready(self, found: B, server: LocalServerProcess, port: int, password: str) -> bool:
        """True once the server accepts connections with the admin credentials."""

    @abc.abstractmethod
    def server_info(self, found: B, port: int, password: str) -> tuple[URL, str]:
        """The admin URL and the one-line description of the running server."""

    def server_binary(self, found: B) -> Path | None:
        """The server's executable, whose change retires a kept server (None: not checked)."""
        return None

    #: finding a kept server again, and removing it (see `harness.launchers._local_keep`)
    kept_problem = staticmethod(kept_problem)
    discard = staticmethod(discard)

    def unavailable_reason(self, backend: Backend, ctx: LaunchContext) -> str | None:
        """Why this launcher cannot serve *backend* here (no driver, no binaries), or None."""
        reason = backend.check_driver()
        if reason is not None:
            return reason
        try:
            self.find()
            service_account()
        except (LauncherUnavailable, LookupError) as exc:
            return str(exc)
        return None

    def start(self, backend: Backend, ctx: LaunchContext) -> Server:
        """Start a private server for *backend*; return it once it accepts connections."""
        found = self.find()
        try:
            account = service_account()
        except LookupError as exc:
            raise LauncherUnavailable(str(exc)) from None
        password = secrets.token_urlsafe(24)
        try:
            sweep(account)
            server = LocalServerProcess(backend.name, account, self.stop_signal, password)
        except OSError as exc:
            raise ServerError(
                f"could not prepare a private directory for the {backend.name} server: {exc}"
            ) from None
        try:
            self.initialize(found, server, password)
            port = self._run(found, server, password)
            url, description = self.server_info(found, port, password)
        except BaseException:
            server.stop()
            raise
        return Server(
            url=url,
            launcher=self.name,
            description=description,
            stop=server.stop,
            died=server.died,
            keep=lambda marker: keep(server, self.server_binary(found), marker),
        )

    def _run(self, found: B, server: LocalServerProcess, password: str) -> int:
        """Spawn the server and wait until it is ready; return its port.

        A free port can be taken by someone else before the server binds it (parallel
        workers do this): then try another one, a few times.
        """
        for attempt in range(1, PORT_ATTEMPTS + 1):
            port = free_port()
            mark = server.log_size()
            server.spawn(self.server_argv(found, server, port))
            if self._wait_ready(found, server, port, password, mark):
                return port
            log = server.log_text(mark)
            server.stop_server()
            if attempt < PORT_ATTEMPTS and any(m in log for m in self.port_in_use_markers):
                continue
            raise server.error("the server exited during start-up", since=mark)
        raise AssertionError("unreachable")  # pragma: no cover

    def _wait_ready(
        self, found: B, server: LocalServerProcess, port: int, password: str, mark: int
    ) -> bool:
        """True once ready, False if the server exited; ServerError after READY_TIMEOUT."""
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if server.exited():
                return False
            if self.is_ready(found, server, port, password):
                return True
            time.sleep(0.02)
        raise server.error(f"not ready after {READY_TIMEOUT:.0f}s", since=mark)
