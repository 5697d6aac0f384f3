"""Hook specifications the harness adds to pytest, for conftest.py files and plugins."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from harness.registry import Registry


@pytest.hookspec(historic=False)
def pytest_harness_register(registry: Registry) -> None:
    """Register extra backends or launchers: ``registry.register(MyLauncher())``.

    Called once at configure time, after the built-ins and the ``harness`` entry points, so
    a registration here replaces a built-in of the same name.
    """
