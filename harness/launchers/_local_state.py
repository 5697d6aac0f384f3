"""Where local servers live on disk, what is recorded about them, and how leftovers are removed."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import secrets
import shutil
import signal
import stat
import tempfile
import time
from pathlib import Path
from typing import Any

from harness.launchers._local_process import Account, ProcessRef, stop_process

#: the file in each server directory that says who owns it and which process to stop
STATE_FILE = "owner.json"
#: a directory without a state file younger than this may be being created right now
_GRACE_SECONDS = 60.0
#: unix socket paths are limited to about 104 bytes (macOS) or 108 (Linux): keep room
_MAX_BASE_LENGTH = 40


@dataclasses.dataclass
class State:
    """What is recorded in a server directory: enough to clean it up from another process."""

    backend: str
    owner: ProcessRef
    stop_signal: int = int(signal.SIGTERM)
    server: ProcessRef | None = None
    watchdog: ProcessRef | None = None
    #: set once the server is kept for later runs (``--harness-reuse``): the path of a
    #: marker file that holds it instead of the owner. The owner recorded is then the
    #: watchdog, which enforces the marker: a sweep that knows nothing of keepers (an older
    #: harness) sees a live owner and leaves the server alone.
    keeper: str | None = None

    def held(self) -> bool:
        """True while the server must live: its keeper's marker exists, else its owner runs."""
        if self.keeper is not None:
            return os.path.lexists(self.keeper)
        return self.owner.is_running()

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> State:
        data = json.loads(text)

        def ref(value: dict[str, Any] | None) -> ProcessRef | None:
            return None if value is None else ProcessRef(int(value["pid"]), str(value["token"]))

        owner = ref(data["owner"])
        if owner is None:
            raise ValueError("no owner recorded")
        return cls(
            backend=str(data["backend"]),
            owner=owner,
            stop_signal=int(data["stop_signal"]),
            server=ref(data.get("server")),
            watchdog=ref(data.get("watchdog")),
            keeper=None if data.get("keeper") is None else str(data["keeper"]),
        )


def read_state(directory: Path) -> State | None:
    """The state recorded in *directory*, or None if there is none (yet) or it is unreadable."""
    try:
        return State.from_json((directory / STATE_FILE).read_text())
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_state(directory: Path, state: State) -> None:
    """Record *state* atomically: a reader never sees half a file."""
    tmp = directory / f".{STATE_FILE}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(state.to_json())
    os.replace(tmp, directory / STATE_FILE)


def servers_root(account: Account | None) -> Path:
    """The well-known directory holding every local server of this user, created if needed.

    ``<tmp>/pytest-harness-<uid>/servers``: one per user, so that a later run can find and
    sweep what a crashed run left behind. When servers run as another (unprivileged) user,
    the directories on the way must be traversable by it, hence 0711 instead of 0700.
    """
    mode = 0o700 if account is None else 0o711
    top = _base_dir(account) / f"pytest-harness-{os.geteuid()}"
    for directory in (top, top / "servers"):
        _ensure_private_dir(directory, mode)
    return top / "servers"


def _base_dir(account: Account | None) -> Path:
    """The temp directory to use: $TMPDIR unless it is too long for sockets or not traversable.

    macOS's per-user $TMPDIR is about 50 characters, which leaves too little of the unix
    socket path limit; root's private $TMPDIR cannot be entered by the unprivileged user.
    """
    base = Path(tempfile.gettempdir())
    fallback = Path("/tmp")
    unusable = len(str(base)) > _MAX_BASE_LENGTH or (
        account is not None and not _traversable_by_others(base)
    )
    if unusable and fallback.is_dir():
        return fallback
    return base


def _traversable_by_others(path: Path) -> bool:
    """True if every directory from / down to *path* has the execute bit for others."""
    path = path.resolve()
    return all(os.stat(p).st_mode & stat.S_IXOTH for p in (path, *path.parents))


def _ensure_private_dir(directory: Path, mode: int) -> None:
    """Create *directory* (or accept it if it is ours and not a symlink) with *mode*.

    The path is predictable, so refuse one planted by another user (a symlink or a directory
    they own) instead of starting servers in it.
    """
    with contextlib.suppress(FileExistsError):
        os.mkdir(directory, mode)
    info = os.lstat(directory)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
        raise PermissionError(
            f"{directory} is not a directory owned by uid {os.geteuid()}: remove it and retry"
        )
    if stat.S_IMODE(info.st_mode) != mode:
        os.chmod(directory, mode)


def make_server_dir(backend: str, account: Account | None) -> Path:
    """Create a new private directory for one server of *backend*: ``<backend>-<pid>-<random>``."""
    root = servers_root(account)
    directory = root / f"{backend}-{os.getpid()}-{secrets.token_hex(4)}"
    os.mkdir(directory, 0o700 if account is None else 0o711)
    return directory


def make_account_dir(path: Path, account: Account | None) -> Path:
    """Create *path* (mode 0700) owned by the account the server runs as."""
    os.mkdir(path, 0o700)
    if account is not None:
        os.chown(path, account.uid, account.gid)
    return path


def write_private_file(path: Path, content: str, account: Account | None) -> Path:
    """Write *content* to a new file only the server's account can read (for secrets)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        if account is not None:
            os.fchown(fd, account.uid, account.gid)
        os.write(fd, content.encode())
    finally:
        os.close(fd)
    return path


def cleanup(directory: Path) -> None:
    """Stop the server recorded in *directory* (by its recorded PID only) and remove it."""
    state = read_state(directory)
    if state is not None and state.server is not None:
        stop_process(state.server, state.stop_signal)
    remove_tree(directory)


def remove_tree(directory: Path) -> None:
    """Remove *directory*; retry briefly, as a dying server may still be writing files."""
    for _ in range(10):
        shutil.rmtree(directory, ignore_errors=True)
        if not directory.exists():
            return
        time.sleep(0.05)


def sweep(account: Account | None) -> list[Path]:
    """Remove the server directories no longer held (`State.held`); return what was removed.

    A kept server (``--harness-reuse``) is held by its keeper's marker, not its owner. Their
    servers are stopped by recorded PID first. A directory with no state file is
    removed only once it is old enough not to be one another process is creating right now.
    """
    removed = []
    for directory in sorted(servers_root(account).iterdir()):
        if not directory.is_dir() or directory.is_symlink():
            continue
        state = read_state(directory)
        if state is None:
            if _age(directory) < _GRACE_SECONDS:
                continue
        elif state.held():
            continue
        try:
            cleanup(directory)
        except OSError:
            continue  # not ours to fix (e.g. a PID we may not signal): never block a start
        removed.append(directory)
    return removed


def _age(path: Path) -> float:
    """Seconds since *path* was last modified (0 if it vanished meanwhile)."""
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return 0.0
