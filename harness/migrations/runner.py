"""Brings a fresh database to the project's schema: Alembic scripts, or ``create_all``."""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import MetaData, inspect
from sqlalchemy.exc import SQLAlchemyError

from harness.errors import ConfigError, HarnessError, driver_message

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine import Connection
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


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


def env_takes_a_connection(config: Config) -> bool:
    """Whether the project's env.py uses a connection handed to it in ``config.attributes``.

    The stock templates (``alembic init``, ``alembic init -t async``) ignore it and build an
    engine from ``sqlalchemy.url``; the async one also calls ``asyncio.run()``, which cannot
    run inside the tests' event loop.
    """
    from alembic.script import ScriptDirectory

    env_py = Path(ScriptDirectory.from_config(config).dir) / "env.py"
    try:
        return "attributes" in env_py.read_text(encoding="utf-8")
    except OSError:
        return True  # let Alembic report the missing env.py in its own words


def _upgrade(config: Config, backend: str, connection: Connection | None) -> None:
    from alembic import command

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
        if connection is not None and connection.in_transaction():
            connection.commit()


def run_alembic_upgrade(connection: Connection, ini_path: Path, backend: str) -> None:
    """Upgrade to head on *connection*, one revision at a time so a failure names its revision."""
    _upgrade(alembic_config(ini_path, connection), backend, connection)


def run_alembic_upgrade_by_url(url: str, ini_path: Path, backend: str) -> None:
    """Upgrade the database at *url* with an env.py that makes its own engine.

    Run where no event loop is running (a worker thread): the async template's env.py calls
    ``asyncio.run()``. ``sqlalchemy.url`` is set in memory only, never written or printed.
    """
    config = alembic_config(ini_path)
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    _upgrade(config, backend, None)


def _has_alembic_version(connection: Connection) -> bool:
    return inspect(connection).has_table("alembic_version")


async def _alembic_upgrade(
    conn: AsyncConnection, engine: AsyncEngine, ini_path: Path, backend: str
) -> None:
    if env_takes_a_connection(alembic_config(ini_path)):
        await conn.run_sync(run_alembic_upgrade, ini_path, backend)
    else:
        url = engine.url.render_as_string(hide_password=False)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="harness-alembic") as pool:
            await asyncio.get_running_loop().run_in_executor(
                pool, run_alembic_upgrade_by_url, url, ini_path, backend
            )
    if conn.in_transaction():
        await conn.commit()
    if not await conn.run_sync(_has_alembic_version):
        raise MigrationError(
            f"{backend}: alembic upgrade head ran, but the test database has no alembic_version "
            f"table: {ini_path.name}'s env.py migrated another database. Make it use "
            "config.attributes['connection'] when given, or build its engine from "
            "config.get_main_option('sqlalchemy.url') (the harness sets both)"
        )


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
            await _alembic_upgrade(conn, engine, alembic_ini, backend)
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
