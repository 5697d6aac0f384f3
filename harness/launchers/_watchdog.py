"""A tiny process that stops a local server when the pytest process that owns it dies.

Run as ``python -m harness.launchers._watchdog <server directory>``. It polls the owner
recorded in the directory's state file; when the owner is gone (SIGKILL, a crash, anything
that skipped the normal stop) it stops the server by its recorded PID and removes the
directory. A server kept for later runs (``--harness-reuse``) is held by its keeper's marker
file instead (the owner recorded is then the watchdog itself): it is stopped once the
marker is gone. It exits by
itself as soon as the directory is gone, which is what a normal stop leaves behind.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from harness.launchers._local_state import cleanup, read_state

#: seconds between two looks at the owner: cheap (one stat, one small read), quick enough
POLL_INTERVAL = 0.25


def watch(directory: Path, poll_interval: float = POLL_INTERVAL) -> None:
    """Return once *directory* is gone, removing it (and its server) if its owner dies first."""
    while directory.exists():
        state = read_state(directory)
        if state is not None and not state.held():
            cleanup(directory)
            return
        time.sleep(poll_interval)


def main(argv: list[str]) -> int:
    """Entry point: ``_watchdog <directory>``."""
    if len(argv) != 1:
        print("usage: python -m harness.launchers._watchdog DIRECTORY", file=sys.stderr)
        return 2
    watch(Path(argv[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
