"""Hypothesis on every backend: per-example isolation, the harness's profiles, async machines.

Hypothesis runs a function-scoped fixture once per *test*, not once per example, so the
database state one example leaves behind is what the next one starts from. The harness
closes that gap in three ways:

* every example of an async ``@given`` test that uses the test's connection (``db_connection``,
  ``db_session``, ``app`` or ``client``, directly or through other fixtures) runs inside its
  own SAVEPOINT, rolled back after it, with the test's sessions reset; nothing to write::

      @given(isbn=st.text(min_size=1, max_size=13))
      async def test_isbn_is_unique(client, isbn):
          ...  # each example starts from the state the test started from

  so the harness also answers Hypothesis's ``function_scoped_fixture`` health check for its
  own fixtures (the user's own function-scoped fixtures are still reported);
* :class:`ExampleIsolation` (``per_example(db_connection, db_session)``) is the same thing as
  an ``async with`` block, for code that loops by itself;
* :func:`run_state_machine` runs a :class:`AsyncStateMachine` (a ``RuleBasedStateMachine``
  whose rules may ``self.wait(coroutine)``) from an async test, each run isolated.

Two settings profiles are registered: :data:`CI_PROFILE` (derandomized, bounded, no deadline,
failure blobs printed), selected by default, and :data:`DEEP_PROFILE`, one option away:
``pytest --hypothesis-profile=harness-deep``.

The pytest hooks are `harness.hypothesis.plugin`, which ``harness.plugin`` loads when
Hypothesis is installed; the strategies are `harness.hypothesis.strategies` (also importable
as ``harness.strategies``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness.hypothesis.examples import isolated_examples
    from harness.hypothesis.isolation import ExampleIsolation, ExampleIsolationError, per_example
    from harness.hypothesis.machines import AsyncStateMachine, run_state_machine
    from harness.hypothesis.profiles import CI_PROFILE, DEEP_PROFILE, select_default_profile

#: public name -> the module that defines it. Imported on first use, so that the loader in
#: `harness.hypothesis.lazy` can live here without importing Hypothesis.
_HOMES = {
    "CI_PROFILE": "profiles",
    "DEEP_PROFILE": "profiles",
    "select_default_profile": "profiles",
    "AsyncStateMachine": "machines",
    "run_state_machine": "machines",
    "ExampleIsolation": "isolation",
    "ExampleIsolationError": "isolation",
    "per_example": "isolation",
    "isolated_examples": "examples",
}


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)


__all__ = [
    "CI_PROFILE",
    "DEEP_PROFILE",
    "AsyncStateMachine",
    "ExampleIsolation",
    "ExampleIsolationError",
    "isolated_examples",
    "per_example",
    "run_state_machine",
    "select_default_profile",
]
