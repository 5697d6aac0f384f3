"""Loads the ``module:attr`` objects named in the configuration, with errors saying what to fix."""

from __future__ import annotations

import importlib

from harness.errors import ConfigError


def load_object(spec: str, *, key: str) -> object:
    """Import ``package.module:attr.sub`` named by the ini key *key*."""
    module_name, sep, attr_path = spec.partition(":")
    if not sep or not module_name or not attr_path:
        raise ConfigError(f"{key} = {spec!r} is not of the form 'package.module:attribute'")
    try:
        obj: object = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"{key} = {spec!r}: cannot import module {module_name!r} ({exc}); "
            "check the name and that the project is importable (installed, or on pythonpath)"
        ) from exc
    for part in attr_path.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ConfigError(
                f"{key} = {spec!r}: {module_name!r} has no attribute {attr_path!r}"
            ) from None
    return obj


def import_module_of(spec: str, *, key: str) -> None:
    """Import the module part of ``package.module:attr`` (for its side effects: models)."""
    module_name = spec.partition(":")[0]
    if not module_name:
        raise ConfigError(f"{key} = {spec!r} is not of the form 'package.module:attribute'")
    try:
        importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"{key} = {spec!r}: cannot import module {module_name!r} ({exc}); "
            "check the name and that the project is importable (installed, or on pythonpath)"
        ) from exc
