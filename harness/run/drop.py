"""Removing what ``--harness-reuse`` kept: one kept server (replaced, or gone stale), or all
of a project's (``--harness-reuse-drop``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.run import kept

if TYPE_CHECKING:
    from pathlib import Path

    from harness.registry import Registry


def discard(registry: Registry, directory: Path, record: kept.Record | None) -> None:
    """Stop the server kept in *directory* (if any) and forget it and its template."""
    if record is not None and record.launcher:
        launcher = registry.launcher(record.launcher, record.backend)
        stop = getattr(launcher, "discard", None)
        if stop is not None:
            stop(record.data)
    kept.forget(directory)


def drop_kept(registry: Registry, rootdir: Path) -> list[str]:
    """Remove everything kept for the project at *rootdir*; one line per thing removed."""
    lines = []
    for directory in kept.project_dirs(rootdir):
        backend = directory.name.rsplit("-", 1)[0]
        lock = kept.Lock.take(directory)
        if lock is None:
            lines.append(f"harness: reuse: {backend}: in use by another run, left as it is")
            continue
        try:
            record = kept.read(directory)
            discard(registry, directory, record)
            kept.remove(directory)
        finally:
            lock.release()
        if record is None:
            lines.append(f"harness: reuse: {backend}: removed an empty kept directory")
        elif record.launcher:
            lines.append(
                f"harness: reuse: {backend}: removed the kept server ({record.description}) "
                "and its template"
            )
        else:
            lines.append(f"harness: reuse: {backend}: removed the kept template file")
    return lines or ["harness: reuse: nothing was kept for this project"]
