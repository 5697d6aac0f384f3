"""harness: one pytest suite, run against SQLite, PostgreSQL and MySQL/MariaDB."""

from __future__ import annotations

from harness.backends.base import Backend
from harness.launchers.base import LaunchContext, Launcher, LauncherUnavailable, Server
from harness.registry import Registry, default_registry

__all__ = [
    "Backend",
    "LaunchContext",
    "Launcher",
    "LauncherUnavailable",
    "Registry",
    "Server",
    "default_registry",
]
__version__ = "0.1.0"
