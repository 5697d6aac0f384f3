"""The project's schema source, and migrating a template database once for every xdist worker."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from harness.importing import import_module_of, load_object

if TYPE_CHECKING:
    from sqlalchemy import MetaData

    from harness.run.state import HarnessRun


def schema_source(run: HarnessRun) -> tuple[Path | None, MetaData | None]:
    """The alembic.ini path, else the ``harness_metadata`` MetaData, the run migrates with.

    The app's module is imported first when ``harness_app`` is set: the models are often
    imported only by the app, so ``harness_metadata`` is complete only after it.
    """
    from harness.migrations.runner import as_metadata

    cfg = run.config
    if cfg.app:
        import_module_of(cfg.app, key="harness_app")
    alembic_ini = (run.rootdir / cfg.alembic_ini) if cfg.alembic_ini else None
    metadata = (
        as_metadata(load_object(cfg.metadata, key="harness_metadata"), key="harness_metadata")
        if cfg.metadata and alembic_ini is None
        else None
    )
    return alembic_ini, metadata


def migrate_template(run: HarnessRun, name: str) -> float:
    """Migrate backend *name*'s database of this run (the template); return the seconds taken.

    The engine has no pool and is disposed before returning: PostgreSQL copies a template
    only while no one is connected to it. Raises `MigrationError` (or another
    `HarnessError`) with the one line the tests of that backend then fail with.
    """
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import NullPool

    from harness.migrations.runner import migrate
    from harness.run.provision import _run

    started = time.perf_counter()
    provisioned = run.get(name)
    url = run.engine_url(name)
    alembic_ini, metadata = schema_source(run)
    run.export_url(name)

    async def upgrade() -> None:
        engine = create_async_engine(url, poolclass=NullPool)
        provisioned.backend.prepare_engine(engine)
        try:
            await migrate(engine, backend=name, alembic_ini=alembic_ini, metadata=metadata)
        finally:
            await engine.dispose()

    _run(upgrade)
    return time.perf_counter() - started
