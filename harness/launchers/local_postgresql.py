"""(placeholder, being written) ."""

from __future__ import annotations

from harness.registry import Registry


def register(registry: Registry) -> None:
    """Registers nothing yet."""
