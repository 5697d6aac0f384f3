"""harness: one pytest suite, run against SQLite, PostgreSQL and MySQL/MariaDB."""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.backends.base import Backend
from harness.launchers.base import LaunchContext, Launcher, LauncherUnavailable, Server
from harness.registry import Registry

if TYPE_CHECKING:
    from harness.builtins import default_registry


def __getattr__(name: str) -> object:
    # Imported on first use: it loads every built-in backend and launcher.
    if name == "default_registry":
        from harness.builtins import default_registry

        return default_registry
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
