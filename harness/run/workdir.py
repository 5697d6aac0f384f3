"""A private temp directory per pytest process, and the sweep of those a dead process left."""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import time
from pathlib import Path

#: a run dir with no owner file yet is left alone this long (its maker may be writing it)
UNOWNED_GRACE_SECONDS = 60


def root() -> Path:
    """The directory under which every harness run keeps its files (per user)."""
    return Path(tempfile.gettempdir()) / f"pytest-harness-{os.getuid()}"


def pid_alive(pid: int) -> bool:
    """True if a process *pid* exists (whoever owns it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def sweep_stale_runs(base: Path | None = None) -> list[Path]:
    """Remove run directories whose owning process is gone; return what was removed."""
    base = base or root()
    removed = []
    for run in sorted(base.glob("run-*")):
        try:
            pid = int((run / "owner.pid").read_text())
        except (OSError, ValueError):
            # Another process may have made it a moment ago and not yet written its owner.
            try:
                young = time.time() - run.stat().st_mtime < UNOWNED_GRACE_SECONDS
            except OSError:
                continue
            if young:
                continue
            pid = 0
        if pid and pid_alive(pid):
            continue
        shutil.rmtree(run, ignore_errors=True)
        removed.append(run)
    return removed


def check_private(base: Path) -> None:
    """Refuse a shared root another user made (or opened up): our files would be theirs.

    Raises `ConfigError` with what to do.
    """
    from harness.errors import ConfigError

    info = base.lstat()
    if base.is_symlink() or info.st_uid != os.getuid():
        raise ConfigError(
            f"{base} belongs to another user (uid {info.st_uid}) or is a link: the harness "
            "will not keep your databases there. Remove it, or point TMPDIR elsewhere"
        )
    # Others may traverse it (0711: a server run as an unprivileged account must reach its
    # own directory inside), never list or write it.
    if info.st_mode & 0o066:
        raise ConfigError(
            f"{base} can be read or written by other users (mode {info.st_mode & 0o777:o}): "
            f"the harness will not keep your databases there. chmod 700 {base}, or remove it"
        )


def create_run_dir(base: Path | None = None) -> Path:
    """Make this process's private directory (mode 0700) and record its owner."""
    base = base or root()
    base.mkdir(mode=0o700, parents=True, exist_ok=True)
    check_private(base)
    run = Path(tempfile.mkdtemp(prefix=f"run-{os.getpid()}-", dir=base))
    # Written whole then renamed, so a sweeper never reads half a PID.
    partial = run / "owner.pid.tmp"
    partial.write_text(str(os.getpid()))
    partial.rename(run / "owner.pid")
    return run


def remove_run_dir(run: Path) -> None:
    # The shared parent stays: removing it could race with another run creating its own.
    shutil.rmtree(run, ignore_errors=True)


def host_tag() -> str:
    """Six hex digits naming this machine (and boot): whose PIDs a run's names carry."""
    import hashlib
    import socket

    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        boot = ""
    return hashlib.sha256(f"{socket.gethostname()}/{boot}".encode()).hexdigest()[:6]


def new_run_id() -> str:
    """An id unique to this process, safe in database names and container labels.

    ``<host>_<pid>_<start time><random>``: a later run can tell, from the name alone, a
    database of a dead run on this machine, or one old enough to be abandoned anywhere.
    """
    return f"{host_tag()}_{os.getpid()}_{int(time.time()):08x}{secrets.token_hex(2)}"
