"""Migrations: bringing a database to the project's schema, and checking the Alembic tree.

`runner` migrates (Alembic scripts, or ``create_all``); `checks` holds the migration checks
as plain functions (`tree`, `stairway`, `model_match`, each in a `scratch` database of its
own); `items` is their pytest layer, the ``harness-migrations::<check>`` items.
"""

from __future__ import annotations

from harness.migrations.runner import (
    MigrationError,
    alembic_config,
    as_metadata,
    migrate,
    run_alembic_upgrade,
    upgrade_steps,
)

__all__ = [
    "MigrationError",
    "alembic_config",
    "as_metadata",
    "migrate",
    "run_alembic_upgrade",
    "upgrade_steps",
]
