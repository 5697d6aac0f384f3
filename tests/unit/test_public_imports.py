"""The import paths the README and adopters use keep working, whatever the tree looks like."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

PUBLIC = {
    "harness": [
        "Backend",
        "LaunchContext",
        "Launcher",
        "LauncherUnavailable",
        "Registry",
        "Server",
        "default_registry",
    ],
    "harness.strategies": [
        "DEFAULT_TEXT_SIZE",
        "StrategyError",
        "existing_references",
        "for_column",
        "instances",
        "json_values",
        "payloads",
        "row_lists",
        "rows",
        "storable_characters",
        "text",
        "unique_keys",
    ],
    "harness.hypothesis": [
        "CI_PROFILE",
        "DEEP_PROFILE",
        "AsyncStateMachine",
        "ExampleIsolation",
        "ExampleIsolationError",
        "per_example",
        "run_state_machine",
        "select_default_profile",
    ],
    "harness.registry": ["ENTRY_POINT_GROUP", "Registry", "default_registry"],
    "harness.migrations": ["MigrationError", "as_metadata", "migrate"],
    "harness.backends.base": ["Backend"],
    "harness.backends.sqlite": ["SQLiteBackend"],
    "harness.launchers.base": ["LaunchContext", "Launcher", "LauncherUnavailable", "Server"],
}


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_public_names_import(module: str) -> None:
    imported = importlib.import_module(module)
    missing = [name for name in PUBLIC[module] if not hasattr(imported, name)]
    assert not missing, f"{module} lost {missing}"


def test_strategies_are_one_set_of_objects() -> None:
    from harness import strategies
    from harness.hypothesis import strategies as home

    assert strategies.rows is home.rows
    assert strategies.__all__ == home.__all__


def test_the_registry_module_imports_no_builtin() -> None:
    # The built-ins import harness.registry to register; it must not import them back.
    code = (
        "import sys, harness.registry; "
        "print(sorted(m for m in sys.modules if m.startswith('harness.')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    assert "harness.backends.sqlite" not in out
    assert "harness.launchers.containers" not in out
