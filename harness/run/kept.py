"""What ``--harness-reuse`` keeps between runs, on disk: a directory per project and backend.

``<harness temp root>/reuse/<backend>-<hash of the project root>/`` (mode 0700) holds:

- ``lock``: taken (``flock``) by the one run using what is kept, for the whole run;
- ``kept.json`` (0600): the kept server (its admin URL with the password, which launcher
  serves it and what that launcher needs to find it again) and the template's fingerprint;
- ``marker-*``: the file a kept ``local`` server is held by (`harness.launchers._local_keep`):
  removing it, or the whole directory, is what makes the watchdog stop that server;
- ``template/``: an embedded backend's migrated template file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from harness.run import workdir

#: the directory under the harness temp root that holds every project's kept servers
REUSE_DIR = "reuse"
RECORD_FILE = "kept.json"
LOCK_FILE = "lock"


def reuse_root() -> Path:
    """``<harness temp root>/reuse``, created private (and the root checked to be ours)."""
    base = workdir.root()
    base.mkdir(mode=0o700, parents=True, exist_ok=True)
    workdir.check_private(base)
    path = base / REUSE_DIR
    path.mkdir(mode=0o700, exist_ok=True)
    workdir.check_private(path)
    return path


def project_key(rootdir: Path) -> str:
    """A short hash of the project root: each project keeps its own servers."""
    return hashlib.sha256(str(rootdir.resolve()).encode()).hexdigest()[:16]


def key_dir(backend: str, rootdir: Path, *, create: bool = True) -> Path:
    """The directory keeping *backend*'s server and template for the project at *rootdir*."""
    path = reuse_root() / f"{backend}-{project_key(rootdir)}"
    if create:
        with contextlib.suppress(FileExistsError):
            os.mkdir(path, 0o700)
        workdir.check_private(path)
    return path


class Lock:
    """An exclusive ``flock`` on a kept directory's lock file, held until `release`."""

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    @classmethod
    def take(cls, directory: Path) -> Lock | None:
        """The lock of *directory*, or None at once if another run holds it."""
        fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return None
        return cls(fd)

    def release(self) -> None:
        """Let the next run use what is kept; safe to call again."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the only descriptor releases the flock


@dataclasses.dataclass
class Record:
    """What is kept in one directory (``kept.json``)."""

    backend: str
    #: the template's fingerprint: what its schema was built from (`harness.run.fingerprint`)
    fingerprint: dict[str, str]
    #: the launcher serving the kept server ("" for an embedded backend)
    launcher: str = ""
    #: the kept server's admin URL, password included: never print it
    url: str = ""
    description: str = ""
    #: the migrated template: a database on the server, or an embedded database's URL
    template: str = ""
    #: what the launcher needs to find the server again (`Server.keep`'s return)
    data: dict[str, str] = dataclasses.field(default_factory=dict)
    #: a finished copy of the current template for the next run to take (`harness.run.spare`)
    spare: str = ""
    #: the databases earlier runs used on the kept server, for the next run to drop while
    #: its tests run (a run leaves its own rather than drop it on the way out)
    leftover: list[str] = dataclasses.field(default_factory=list)

    @property
    def version(self) -> str:
        return self.fingerprint.get("server", "")


def read(directory: Path) -> Record | None:
    """The record in *directory*, or None if there is none or it cannot be read."""
    try:
        data: dict[str, Any] = json.loads((directory / RECORD_FILE).read_text())
        fields = {f.name for f in dataclasses.fields(Record)}
        return Record(**{k: v for k, v in data.items() if k in fields})
    except (OSError, ValueError, TypeError):
        return None


def write(directory: Path, record: Record) -> None:
    """Save *record* (0600) atomically: a reader never sees half of it."""
    partial = directory / f".{RECORD_FILE}.tmp"
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(dataclasses.asdict(record), f, indent=1)
    os.replace(partial, directory / RECORD_FILE)


def forget(directory: Path) -> None:
    """Remove the record and the markers (so a kept server's watchdog stops it)."""
    (directory / RECORD_FILE).unlink(missing_ok=True)
    for marker in directory.glob("marker-*"):
        marker.unlink(missing_ok=True)


def remove(directory: Path) -> None:
    """Remove *directory* whole."""
    shutil.rmtree(directory, ignore_errors=True)


def project_dirs(rootdir: Path) -> list[Path]:
    """Every kept directory of the project at *rootdir*, one per backend."""
    root = workdir.root() / REUSE_DIR
    if not root.is_dir():
        return []
    suffix = f"-{project_key(rootdir)}"
    return sorted(p for p in root.iterdir() if p.name.endswith(suffix) and p.is_dir())
