"""The ``harness_isolation`` marker: how a test is kept from the others (light: no SQLAlchemy)."""

from __future__ import annotations

import pytest

MARKER = "harness_isolation"
#: the mode of each database test, read from its marker once, at collection
ISOLATION_KEY = pytest.StashKey[str]()
#: "savepoint": the default, an outer transaction rolled back after the test; "commit": real
#: commits, and what the test changed is put back afterwards
MODES = ("savepoint", "commit")
DESCRIPTION = (
    f"{MARKER}(mode): 'commit' runs the test on real commits (several connections, locks, "
    "background tasks, DDL) and puts back what it changed afterwards; 'savepoint' (the "
    "default) rolls its outer transaction back"
)


def isolation_of(item: pytest.Item) -> str:
    """The test's isolation mode; raises `pytest.UsageError` with one line for a bad marker."""
    mark = item.get_closest_marker(MARKER)
    if mark is None:
        return "savepoint"
    mode = mark.args[0] if len(mark.args) == 1 and not mark.kwargs else None
    if mode not in MODES:
        raise pytest.UsageError(
            f"{item.nodeid}: @pytest.mark.{MARKER} takes one of "
            f"{', '.join(map(repr, MODES))}; got {mark.args or ''}{mark.kwargs or ''}"
        )
    return str(mode)
