"""Process helpers for the ``local`` launchers: identities, stopping by recorded PID, accounts."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pwd
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

#: how long a server gets to shut down cleanly before it is killed
STOP_TIMEOUT = 10.0
#: how long a killed process gets to disappear
KILL_TIMEOUT = 5.0

_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


@dataclasses.dataclass(frozen=True)
class ProcessRef:
    """A process as recorded: its PID and a token that changes if the PID is reused."""

    pid: int
    token: str

    @classmethod
    def of(cls, pid: int) -> ProcessRef | None:
        """Record the running process *pid*, or None if it is not running."""
        token = process_token(pid)
        return None if token is None else cls(pid, token)

    def is_running(self) -> bool:
        """True while this very process runs (not a later one that got the same PID)."""
        return process_token(self.pid) == self.token


def process_token(pid: int) -> str | None:
    """Return a token identifying the process *pid* by its start time, or None if it is gone.

    A zombie counts as gone: it has exited, only its parent has not reaped it yet.
    """
    if pid <= 0:
        return None
    stat = Path(f"/proc/{pid}/stat")
    if Path("/proc/self/stat").exists():
        try:
            text = stat.read_text()
        except OSError:
            return None
        # Field 2 (the command) is in parentheses and may contain spaces: split after it.
        fields = text.rpartition(")")[2].split()
        state, start_ticks = fields[0], fields[19]
        if state in ("Z", "X"):
            return None
        return f"{_boot_id()}:{start_ticks}"
    return _ps_token(pid)


def _boot_id() -> str:
    """The id of this boot, so that a start time from before a reboot never matches."""
    try:
        return _BOOT_ID.read_text().strip()
    except OSError:
        return ""


def _ps_token(pid: int) -> str | None:
    """The token on systems without /proc (macOS, BSDs): state and start time from ps."""
    try:
        out = subprocess.run(
            ["ps", "-o", "stat=,lstart=", "-p", str(pid)],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "LC_ALL": "C"},
        ).stdout.strip()
    except OSError:
        return None
    if not out or out.startswith("Z"):
        return None
    return out.split(maxsplit=1)[1] if " " in out else out


def stop_process(
    ref: ProcessRef,
    stop_signal: int,
    *,
    popen: subprocess.Popen[Any] | None = None,
    timeout: float = STOP_TIMEOUT,
) -> None:
    """Ask the recorded process to stop with *stop_signal*, kill it after *timeout*.

    Only ever signals *ref* while its token still matches, so a reused PID is left alone.
    With *popen* (the process is our child) it is also reaped.
    """
    for sig, wait in ((stop_signal, timeout), (signal.SIGKILL, KILL_TIMEOUT)):
        if not _signal(ref, sig):
            break
        if _wait_gone(ref, popen, wait):
            break
    if popen is not None:
        # Reap it, so that no zombie (and no ResourceWarning from Popen) is left.
        with contextlib.suppress(subprocess.TimeoutExpired):
            popen.wait(timeout=KILL_TIMEOUT)


def _signal(ref: ProcessRef, sig: int) -> bool:
    """Send *sig* to *ref* if it is still that process; False if it is gone."""
    if not ref.is_running():
        return False
    try:
        os.kill(ref.pid, sig)
    except ProcessLookupError:
        return False
    return True


def _wait_gone(ref: ProcessRef, popen: subprocess.Popen[Any] | None, timeout: float) -> bool:
    """Wait up to *timeout* for *ref* to exit; True if it did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if popen is not None and popen.poll() is not None:
            return True
        if not ref.is_running():
            return True
        time.sleep(0.02)
    return False


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (the caller retries if it is taken)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclasses.dataclass(frozen=True)
class Account:
    """The unprivileged user a server runs as when pytest runs as root."""

    name: str
    uid: int
    gid: int

    def popen_kwargs(self) -> dict[str, Any]:
        """`subprocess` arguments that run a child as this user, without root's groups."""
        return {"user": self.uid, "group": self.gid, "extra_groups": []}


#: accounts tried, in order, when running as root: ``nobody`` owns nothing, which is the point
_UNPRIVILEGED_NAMES = ("nobody",)


def service_account() -> Account | None:
    """The account to run servers as: None (ourselves) unless we are root.

    PostgreSQL refuses to run as root, and a test server has no business running as root
    anyway, so as root every server process runs as an unprivileged user.

    Raises LookupError if we are root and no such user exists.
    """
    if os.geteuid() != 0:
        return None
    for name in _UNPRIVILEGED_NAMES:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        if entry.pw_uid != 0:
            return Account(name, entry.pw_uid, entry.pw_gid)
    raise LookupError(
        "pytest runs as root and no unprivileged user "
        f"({', '.join(_UNPRIVILEGED_NAMES)}) exists to run the server as: "
        "run pytest as a normal user, or create the user 'nobody'"
    )


def server_env() -> dict[str, str]:
    """The environment for server processes: ours, without what would redirect them.

    PGDATA, PGPORT, MYSQL_UNIX_PORT and friends would override or confuse the explicit
    options; the C locale keeps log messages (which error reports quote) in English.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PG", "MYSQL", "MARIADB"))
    }
    env.update(LC_ALL="C", LANG="C")
    return env
