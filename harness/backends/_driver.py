"""A shared check that an async driver can be imported, with the install hint if not."""

from __future__ import annotations

import importlib.util


def missing_driver(module: str, extra: str) -> str | None:
    """Return an actionable message if *module* cannot be imported, else None."""
    if importlib.util.find_spec(module) is not None:
        return None
    return (
        f"the async driver {module!r} is not installed: "
        f"pip install 'pytest-harness[{extra}]' (or pip install {module})"
    )
