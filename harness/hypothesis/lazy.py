"""Loads the Hypothesis support when Hypothesis is first imported, and not before.

A run whose tests never import Hypothesis never pays for importing it. The moment something
does (a test module's ``from hypothesis import given``, a conftest, or Hypothesis's own
plugin for ``--hypothesis-profile``), the harness's profiles are registered and its
per-example isolation plugged in, before any ``@given`` or ``@settings`` in that module is
applied, so the profiles are the ones in effect, as if loaded at start-up.

This module imports nothing of Hypothesis itself.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

import pytest

PLUGIN = "harness.hypothesis.plugin"
#: set once collection is over: Hypothesis imported after that (Hypothesis's own plugin
#: does, for its terminal summary) has no test of the run left to serve
COLLECTED = pytest.StashKey[bool]()


def _load(config: pytest.Config) -> None:
    if not config.stash.get(COLLECTED, False):
        config.pluginmanager.import_plugin(PLUGIN)  # pytest_configure is historic: runs now


class _AfterImport(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Wraps the loader of ``hypothesis``: once its module has run, load the harness plugin."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self._loader: Any = None

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "hypothesis":
            return None
        sys.meta_path.remove(self)  # once: the real finders take it from here
        # Whoever would have found it (pytest's assertion rewriter marks plugin packages):
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        self._loader = spec.loader
        spec.loader = self
        return spec

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        created: ModuleType | None = self._loader.create_module(spec)
        return created

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        # The module looks as if its own loader had loaded it (pytest checks that loader).
        module.__loader__ = self._loader
        if module.__spec__ is not None:
            module.__spec__.loader = self._loader
        sys.modules[module.__name__] = module
        _load(self.config)


def install(config: pytest.Config) -> None:
    """Load the Hypothesis support now if Hypothesis is imported, else when it is."""
    if "hypothesis" in sys.modules:
        _load(config)
        return
    finder = _AfterImport(config)
    sys.meta_path.insert(0, finder)

    def uninstall() -> None:
        if finder in sys.meta_path:
            sys.meta_path.remove(finder)

    config.add_cleanup(uninstall)
