"""The harness's Hypothesis settings profiles, and the choice of the default one."""

from __future__ import annotations

from typing import Final

import pytest
from hypothesis import settings

#: Selected unless another profile is: the same examples on every run and every backend
#: (derandomized), a bounded number of them, no deadline (database timings vary by backend
#: and machine), and a failure prints the ``@reproduce_failure`` blob that replays it.
CI_PROFILE: Final = "harness-ci"
#: ``--hypothesis-profile=harness-deep``: twenty times the examples, longer state machine
#: runs, random seeds, and the example database on, so a failure found once is replayed.
DEEP_PROFILE: Final = "harness-deep"

settings.register_profile(
    CI_PROFILE,
    derandomize=True,
    max_examples=50,
    stateful_step_count=25,
    deadline=None,
    print_blob=True,
    # Derandomized runs need no memory of earlier ones; CI machines start clean anyway.
    database=None,
)
settings.register_profile(
    DEEP_PROFILE,
    derandomize=False,
    max_examples=1000,
    stateful_step_count=60,
    deadline=None,
    print_blob=True,
)


def select_default_profile(config: pytest.Config) -> str:
    """Load :data:`CI_PROFILE` unless a profile was chosen; return the profile in effect.

    A profile is chosen by ``--hypothesis-profile`` or by ``settings.load_profile(...)`` in a
    conftest (which runs before this).
    """
    chosen = config.getoption("hypothesis_profile", default=None)
    # "ci" is the profile newer Hypothesis loads by itself when the CI variable is set: not
    # the project's choice, so the harness's own CI profile still applies.
    if not chosen and settings.get_current_profile_name() in ("default", "ci"):
        settings.load_profile(CI_PROFILE)
    return settings.get_current_profile_name()
