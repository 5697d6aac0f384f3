"""Brings a fresh database to the project's schema: Alembic scripts, or ``create_all``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import MetaData
from sqlalchemy.exc import SQLAlchemyError

from harness.errors import ConfigError, HarnessError, driver_message

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine import Connection
    from sqlalchemy.ext.asyncio import AsyncEngine


class MigrationError(HarnessError):
    """A migration failed; the message names the backend, the revision and the error."""


def alembic_config(ini_path: Path, connection: Connection | None = None) -> Config:
    """An Alembic `Config` for *ini_path* whose relative script_location works from any cwd."""
    try:
        from alembic.config import Config
    except ImportError:
        raise ConfigError(
            "harness_alembic_ini is set but Alembic is not installed: "
            "pip install 'pytest-harness[alembic]'"
        ) from None
    if not ini_path.is_file():
        raise ConfigError(f"harness_alembic_ini: {ini_path} does not exist")
    config = Config(str(ini_path))
    location = config.get_main_option("script_location")
    if location is None:
        raise ConfigError(f"{ini_path} has no script_location in its [alembic] section")
    # Alembic reads a relative script_location from the current directory; pytest may be
    # started anywhere, so anchor it at the ini file (package:path locations are left alone).
    if ":" not in location and not os.path.isabs(location):
        config.set_main_option("script_location", str(ini_path.parent / location))
    if connection is not None:
        # The documented hand-over: env.py runs on this connection instead of its own engine.
        config.attributes["connection"] = connection
    # A convention env.py files may honour: don't let fileConfig() reconfigure pytest's logging.
    config.attributes["configure_logger"] = False
    return config


def upgrade_steps(config: Config) -> list[str]:
    """The revisions from base to head, one at a time (one head), else just ``["heads"]``."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(config)
    if len(script.get_heads()) != 1:
        return ["heads"]
    return [rev.revision for rev in reversed(list(script.walk_revisions("base", "heads")))]


def run_alembic_upgrade(connection: Connection, ini_path: Path, backend: str) -> None:
    """Upgrade to head on *connection*, one revision at a time so a failure names its revision."""
    from alembic import command

    config = alembic_config(ini_path, connection)
    for revision in upgrade_steps(config):
        try:
            command.upgrade(config, revision)
        except SQLAlchemyError as exc:
            raise MigrationError(
                f"{backend}: migration {revision} failed: "
                f"{type(exc).__name__}: {driver_message(exc)}"
            ) from None
        except Exception as exc:
            raise MigrationError(
                f"{backend}: migration {revision} failed: {type(exc).__name__}: {exc}"
            ) from exc
        if connection.in_transaction():
            connection.commit()


async def migrate(
    engine: AsyncEngine,
    *,
    backend: str,
    alembic_ini: Path | None,
    metadata: MetaData | None,
) -> str:
    """Bring the database behind *engine* to the project's schema; return how it was done."""
    async with engine.connect() as conn:
        if alembic_ini is not None:
            await conn.run_sync(run_alembic_upgrade, alembic_ini, backend)
            how = f"alembic upgrade head ({alembic_ini.name})"
        elif metadata is not None:
            try:
                await conn.run_sync(metadata.create_all)
            except SQLAlchemyError as exc:
                raise MigrationError(
                    f"{backend}: create_all failed: {driver_message(exc)}"
                ) from None
            how = "metadata.create_all"
        else:
            how = "no schema (set harness_alembic_ini or harness_metadata)"
        if conn.in_transaction():
            await conn.commit()
    return how


def as_metadata(obj: object, *, key: str) -> MetaData:
    """Accept a MetaData or a declarative base (anything with a ``.metadata``)."""
    if isinstance(obj, MetaData):
        return obj
    metadata = getattr(obj, "metadata", None)
    if isinstance(metadata, MetaData):
        return metadata
    raise ConfigError(f"{key} must name a sqlalchemy MetaData (or a declarative Base), not {obj!r}")
