"""Keeping a ``local`` server for later runs (``--harness-reuse``), finding it, removing it.

A kept server is a server directory like any other (see `harness.launchers._local_state`)
whose state names a keeper: a marker file in the reuse directory of the project
(`harness.run.reuse`). The sweep and the watchdog leave it running while that marker exists;
removing the marker (or the whole reuse directory) is enough for the watchdog to stop it.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from harness.launchers._local_state import cleanup, read_state

if TYPE_CHECKING:
    from harness.launchers._local import LocalServerProcess
    from harness.launchers.base import LaunchContext


#: the processes of servers kept for later runs (`LocalServerProcess.keep`)
_KEPT_PROCESSES: list[subprocess.Popen[bytes]] = []


def hold_until_exit(processes: list[subprocess.Popen[bytes]]) -> None:
    """Keep the Popen objects of a kept server's processes (still our children, meant to
    outlive us) until we exit, then let go of them without the warning that they still run."""
    if not _KEPT_PROCESSES:
        atexit.register(_let_go)
    _KEPT_PROCESSES.extend(processes)


def _let_go() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        _KEPT_PROCESSES.clear()


def _binary_stamp(binary: Path) -> str:
    """What changes when *binary* is replaced (a package upgrade): size and mtime."""
    try:
        info = os.stat(binary)
    except OSError:
        return "missing"
    return f"{info.st_size}:{info.st_mtime_ns}"


def keep(server: LocalServerProcess, binary: Path | None, marker: Path) -> dict[str, str]:
    """Hand *server* to *marker* and return what finds it again (`kept_problem`, `discard`)."""
    server.keep(marker)
    data = {"directory": str(server.directory), "marker": str(marker)}
    if binary is not None:
        data.update(binary=str(binary), binary_stamp=_binary_stamp(binary))
    return data


def kept_problem(data: dict[str, str], ctx: LaunchContext | None = None) -> str | None:
    """Why the kept server *data* names cannot be used, or None if it still runs, unchanged."""
    directory = Path(data.get("directory", ""))
    state = read_state(directory) if directory.is_absolute() else None
    if state is None:
        return "is gone (its directory was removed)"
    if state.server is None or not state.server.is_running():
        return "is no longer running"
    if state.keeper != data.get("marker"):
        return "belongs to another keeper"
    binary = data.get("binary")
    if binary is not None and _binary_stamp(Path(binary)) != data.get("binary_stamp"):
        return f"runs an older {Path(binary).name} than the one installed now"
    return None


def discard(data: dict[str, str]) -> None:
    """Stop the kept server by its recorded PID and remove its directory (if still there)."""
    directory = Path(data.get("directory", ""))
    if directory.is_absolute() and read_state(directory) is not None:
        cleanup(directory)
