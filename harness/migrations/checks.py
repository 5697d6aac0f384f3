"""The migration checks as plain functions, by name; `harness.migrations.items` runs them."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import MetaData

from harness.migrations.model_match import check_model_matches_schema, model_differences
from harness.migrations.scratch import ScratchDatabase, run_in_scratch_database
from harness.migrations.stairway import Snapshot, check_stairway, check_upgrade_base_to_head
from harness.migrations.tree import (
    CHECKS,
    DATABASE_CHECKS,
    DESCRIPTIONS,
    MODEL_MATCH,
    SINGLE_HEAD,
    STAIRWAY,
    UPGRADE,
    MigrationCheckFailed,
    MigrationTree,
    Revision,
    check_single_head,
)


def run_check(
    check: str,
    tree: MigrationTree,
    scratch: ScratchDatabase,
    *,
    metadata: MetaData | None = None,
    metadata_name: str = "the models",
) -> None:
    """Run the database check *check* (one of `DATABASE_CHECKS`) in *scratch*."""
    backend = scratch.backend.name
    if check == UPGRADE:
        run_in_scratch_database(scratch, lambda c: check_upgrade_base_to_head(c, tree, backend))
    elif check == STAIRWAY:
        run_in_scratch_database(scratch, lambda c: check_stairway(c, tree, backend))
    elif check == MODEL_MATCH:
        run_in_scratch_database(
            scratch,
            lambda c: check_model_matches_schema(c, tree, backend, metadata, metadata_name),
        )
    else:
        raise ValueError(f"unknown database check {check!r}; valid: {', '.join(DATABASE_CHECKS)}")


__all__ = [
    "CHECKS",
    "DATABASE_CHECKS",
    "DESCRIPTIONS",
    "MODEL_MATCH",
    "SINGLE_HEAD",
    "STAIRWAY",
    "UPGRADE",
    "MigrationCheckFailed",
    "MigrationTree",
    "Revision",
    "ScratchDatabase",
    "Snapshot",
    "check_model_matches_schema",
    "check_single_head",
    "check_stairway",
    "check_upgrade_base_to_head",
    "model_differences",
    "run_check",
    "run_in_scratch_database",
]
