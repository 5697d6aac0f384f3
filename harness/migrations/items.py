"""The migration checks as test items: ``harness-migrations::<check>[<backend>]``.

Loaded by `harness.plugin` when ``--harness-migration-checks`` (env HARNESS_MIGRATION_CHECKS,
ini harness_migration_checks) is on. The checks themselves are `harness.migrations.checks`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from harness.errors import HarnessError
from harness.importing import load_object
from harness.migrations import checks
from harness.migrations.runner import as_metadata
from harness.plugin import RUN_KEY

if TYPE_CHECKING:
    from _pytest._code.code import ExceptionInfo, TerminalRepr

    from harness.run.state import HarnessRun

#: the collector every check item hangs from: its name is the first part of their node ids
NODE = "harness-migrations"
MARKER = "harness_migrations"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}: a migration check added by --harness-migration-checks "
        f"(run only them with -m {MARKER}, leave them out with -m 'not {MARKER}')",
    )
    run = config.stash[RUN_KEY]
    if not run.config.alembic_ini:
        origin = run.config.origin.get("migration_checks", "default")
        raise pytest.UsageError(
            f"harness: migration checks are on ({origin}) but there is no alembic.ini to check: "
            "set harness_alembic_ini = 'alembic.ini' in pytest.ini or [tool.pytest.ini_options]"
        )


def pytest_report_header(config: pytest.Config) -> str:
    run = config.stash[RUN_KEY]
    cfg = run.config
    models = f"models {cfg.metadata}" if cfg.metadata else "models: env.py's target_metadata"
    return (
        f"harness: migration checks on ({cfg.origin.get('migration_checks')}): "
        f"{cfg.alembic_ini}; {models}; each in a scratch database of its own"
    )


@dataclasses.dataclass
class _Loaded:
    tree: checks.MigrationTree | None = None
    error: HarnessError | None = None


class MigrationChecks(pytest.Collector):
    """The check items for the project's Alembic tree: one head, then three per backend."""

    def __init__(self, *, ini_path: Path, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ini_path = ini_path
        self._loaded: _Loaded | None = None

    def tree(self) -> checks.MigrationTree:
        """The revision tree, read once; every item fails with the same error if it can't be."""
        if self._loaded is None:
            try:
                self._loaded = _Loaded(tree=checks.MigrationTree(self.ini_path))
            except HarnessError as exc:
                self._loaded = _Loaded(error=exc)
        if self._loaded.error is not None:
            raise self._loaded.error
        assert self._loaded.tree is not None
        return self._loaded.tree

    def collect(self) -> list[pytest.Item]:
        run = self.config.stash[RUN_KEY]
        items: list[pytest.Item] = [
            MigrationCheckItem.from_parent(self, name=checks.SINGLE_HEAD, check=checks.SINGLE_HEAD)
        ]
        # Backend by backend, as the tests are grouped: one server's checks run together.
        for backend in run.config.backends:
            for check in checks.DATABASE_CHECKS:
                items.append(
                    MigrationCheckItem.from_parent(
                        self, name=f"{check}[{backend}]", check=check, backend=backend
                    )
                )
        return items


class MigrationCheckItem(pytest.Item):
    """One check; on one backend, in a scratch database of its own, unless it needs none."""

    parent: MigrationChecks

    def __init__(self, *, check: str, backend: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check = check
        self.backend = backend
        self.add_marker(MARKER)

    def _run(self) -> HarnessRun:
        return self.config.stash[RUN_KEY]

    def runtest(self) -> None:
        tree = self.parent.tree()
        if self.backend is None:
            checks.check_single_head(tree)
            return
        heads = tree.heads
        if len(heads) > 1:
            pytest.skip(
                f"{len(heads)} heads ({', '.join(h.revision for h in heads)}): "
                f"merge them first (see {NODE}::{checks.SINGLE_HEAD})"
            )
        metadata, metadata_name = self._metadata()
        checks.run_check(
            self.check,
            tree,
            self._scratch(),
            metadata=metadata,
            metadata_name=metadata_name,
        )

    def _metadata(self) -> tuple[Any, str]:
        spec = self._run().config.metadata
        if self.check != checks.MODEL_MATCH:
            return None, ""
        if not spec:
            return None, "env.py's target_metadata"
        obj = load_object(spec, key="harness_metadata")
        return as_metadata(obj, key="harness_metadata"), f"the models ({spec})"

    def _scratch(self) -> checks.ScratchDatabase:
        assert self.backend is not None
        run = self._run()
        provisioned = run.get(self.backend)
        server = provisioned.server
        return checks.ScratchDatabase(
            backend=provisioned.backend,
            server_url=server.url if server is not None else None,
            # Never the tests' database (harness_<run id>): a name of each check's own.
            name=f"harness_{run.run_id}_{self.check}",
            directory=run.workdir / NODE / f"{self.backend}-{self.check}",
        )

    def repr_failure(
        self,
        excinfo: ExceptionInfo[BaseException],
        style: Any = None,
    ) -> str | TerminalRepr:
        if isinstance(excinfo.value, HarnessError):
            return f"harness: {excinfo.value}"
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, self.nodeid


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Put the checks first (before -k/-m/--deselect see them): a broken tree shows at once."""
    run = config.stash[RUN_KEY]
    assert run.config.alembic_ini is not None  # pytest_configure refused to go on without it
    ini_path = run.rootdir / run.config.alembic_ini
    collector = MigrationChecks.from_parent(
        session, name=NODE, nodeid=NODE, path=ini_path, ini_path=ini_path
    )
    checks = collector.collect()
    # Reported like any collected node, so "collected N items" and --lf count the checks too.
    config.hook.pytest_collectreport(
        report=pytest.CollectReport(NODE, "passed", longrepr=None, result=list(checks))
    )
    items[:0] = checks


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the servers the selected checks need, in parallel, as the plugin does for tests."""
    if session.config.getoption("collectonly"):
        return
    backends = [
        item.backend
        for item in session.items
        if isinstance(item, MigrationCheckItem) and item.backend is not None
    ]
    run = session.config.stash[RUN_KEY]
    try:
        run.ensure(backends)
    except HarnessError as exc:
        if run.provider is not None:
            return  # an xdist worker: the checks of that backend fail with it
        raise pytest.UsageError(f"harness: {exc}") from None
