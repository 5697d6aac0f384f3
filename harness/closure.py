"""Walks pytest's fixture graph: does a fixture build on one of a few others?"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any


def builds_on(
    names: Iterable[str], targets: Collection[str], name2defs: Mapping[str, Sequence[Any]]
) -> bool:
    """Whether any fixture in *names*, or a fixture they request in turn, is in *targets*.

    *name2defs* is an item's ``_fixtureinfo.name2fixturedefs``: for each fixture name, the
    definitions that may serve it (overrides included), each with its ``argnames``.
    """
    seen: set[str] = set()
    todo = list(names)
    while todo:
        current = todo.pop()
        if current in targets:
            return True
        if current in seen:
            continue
        seen.add(current)
        for fixturedef in name2defs.get(current, ()):
            todo.extend(fixturedef.argnames)
    return False
