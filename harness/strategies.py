"""The public path of `harness.hypothesis.strategies`: strategies from models and schemas."""

from __future__ import annotations

from harness.hypothesis.strategies import *  # noqa: F403  (the same public names, one home)
from harness.hypothesis.strategies import __all__ as __all__
