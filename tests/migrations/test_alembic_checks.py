"""The checks as plain functions, without pytest in between: a sync SQLite connection suffices."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine

from harness.errors import HarnessError
from harness.migrations import checks, stairway
from harness.migrations.checks import MigrationCheckFailed, MigrationTree, Revision, Snapshot
from tests.migrations.conftest import ALEMBIC_INI, AUTHORS, BOOKS, ENV_PY


def write_tree(root: Path, revisions: list[tuple[str, str | None, str, str]]) -> Path:
    (root / "migrations" / "versions").mkdir(parents=True)
    # No models module: one imported here would stay in sys.modules for later pytester runs.
    (root / "migrations" / "env.py").write_text(
        ENV_PY.replace("from models import metadata", "metadata = None")
    )
    for rev, down, message, body in revisions:
        (root / "migrations" / "versions" / f"{rev}.py").write_text(
            f'"""{message}"""\nimport sqlalchemy as sa\nfrom alembic import op\n'
            f"revision = {rev!r}\ndown_revision = {down!r}\n{body}"
        )
    ini = root / "alembic.ini"
    ini.write_text(ALEMBIC_INI)
    return ini


def test_revisions_come_base_first_with_their_messages(tmp_path: Path):
    ini = write_tree(
        tmp_path,
        [("0002", "0001", "create books", BOOKS), ("0001", None, "create authors", AUTHORS)],
    )
    tree = MigrationTree(ini)
    assert [r.label for r in tree.revisions] == ["0001 (create authors)", "0002 (create books)"]
    assert [r.revision for r in tree.heads] == ["0002"]
    checks.check_single_head(tree)


def test_a_missing_ini_is_a_configuration_error(tmp_path: Path):
    with pytest.raises(HarnessError, match="does not exist"):
        MigrationTree(tmp_path / "alembic.ini")


def test_stairway_on_a_plain_connection_names_what_a_downgrade_left(tmp_path: Path):
    leaky = AUTHORS.replace('op.drop_table("authors")', "pass")
    ini = write_tree(tmp_path, [("0001", None, "create authors", leaky)])
    engine = create_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    try:
        with engine.connect() as conn, pytest.raises(MigrationCheckFailed) as failed:
            checks.check_stairway(conn, MigrationTree(ini), "sqlite")
    finally:
        engine.dispose()
    assert str(failed.value) == (
        "stairway[sqlite]: revision 0001 (create authors): its downgrade (to base) does not "
        "undo its upgrade:\n  - table authors is still there"
    )


def test_snapshot_differences_both_ways():
    before = Snapshot(tables={"a": frozenset({"id", "x"})}, others=frozenset({("view", "v")}))
    after = Snapshot(
        tables={"a": frozenset({"id", "y"}), "b": frozenset({"id"})},
        others=frozenset({("enum type", "mood")}),
    )
    assert before.differences(after) == [
        "table b is still there",
        "column a.y is still there",
        "column a.x is gone (it existed before the upgrade)",
        "enum type mood is still there",
        "view v is gone (it existed before the upgrade)",
    ]


@pytest.mark.parametrize(
    ("downs", "target"), [((), "base"), (("0001",), "0001"), (("0002", "0002b"), "0002")]
)
def test_a_downgrade_undoes_one_revision(downs: tuple[str, ...], target: str):
    revision = Revision(revision="0003", down_revisions=downs, message="")
    assert stairway._one_below(revision) == target
