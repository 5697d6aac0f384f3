"""The checks' names, the Alembic revision tree as they see it, the single-head check, and
how a failing revision is described."""

from __future__ import annotations

import dataclasses
import os
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Final

from sqlalchemy.exc import SQLAlchemyError

from harness.errors import HarnessError
from harness.migrations.runner import alembic_config

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import Script, ScriptDirectory
    from sqlalchemy.engine import Connection


SINGLE_HEAD: Final = "single_head"
UPGRADE: Final = "upgrade_base_to_head"
STAIRWAY: Final = "stairway"
MODEL_MATCH: Final = "model_matches_schema"
#: every check, in the order they are reported; all but the first need a database
CHECKS: Final = (SINGLE_HEAD, UPGRADE, STAIRWAY, MODEL_MATCH)
DATABASE_CHECKS: Final = (UPGRADE, STAIRWAY, MODEL_MATCH)
#: what each check proves, for docs and ``--collect-only -v``
DESCRIPTIONS: Final = {
    SINGLE_HEAD: "the revision tree has exactly one head",
    UPGRADE: "an empty database upgrades from base to head, one revision at a time",
    STAIRWAY: "each revision upgrades, downgrades to where it was, and upgrades again",
    MODEL_MATCH: "at head, autogenerate finds no difference between the models and the schema",
}

#: how much of a failing SQL statement a message quotes
_SQL_CHARS = 600


class MigrationCheckFailed(HarnessError):
    """A check found a problem; the message names the backend, the revision and the difference."""


@dataclasses.dataclass(frozen=True)
class Revision:
    """One migration script, as a failure message names it."""

    revision: str
    down_revisions: tuple[str, ...]
    message: str

    @property
    def label(self) -> str:
        return f"{self.revision} ({self.message})" if self.message else self.revision

    @classmethod
    def of(cls, script: Script) -> Revision:
        down = script.down_revision
        downs = () if down is None else ((down,) if isinstance(down, str) else tuple(down))
        doc = (script.doc or "").strip().splitlines()
        return cls(revision=script.revision, down_revisions=downs, message=doc[0] if doc else "")


class MigrationTree:
    """The project's Alembic scripts, read from its alembic.ini."""

    def __init__(self, ini_path: Path) -> None:
        from alembic.script import ScriptDirectory
        from alembic.util import CommandError

        self.ini_path = ini_path
        config = alembic_config(ini_path)
        try:
            self.script: ScriptDirectory = ScriptDirectory.from_config(config)
            self._heads = [Revision.of(self._get(head)) for head in self.script.get_heads()]
            # walk_revisions goes from the heads down; checks go up.
            walked = self.script.walk_revisions("base", "heads")
            self._revisions = [Revision.of(script) for script in reversed(list(walked))]
        except (CommandError, ValueError, KeyError) as exc:
            raise MigrationCheckFailed(
                f"cannot read the revision tree of {ini_path}: {type(exc).__name__}: {exc}"
            ) from None

    def _get(self, revision: str) -> Script:
        script = self.script.get_revision(revision)
        assert script is not None  # a head alembic just listed
        return script

    @property
    def heads(self) -> list[Revision]:
        return list(self._heads)

    @property
    def revisions(self) -> list[Revision]:
        """Every revision, each after all of its ancestors (base first)."""
        return list(self._revisions)

    @property
    def versions_dirs(self) -> list[Path]:
        return [Path(d).resolve() for d in self.script._version_locations]

    def config(self, connection: Connection) -> Config:
        """A fresh Alembic config whose env.py runs on *connection*."""
        return alembic_config(self.ini_path, connection)


# -- single head -----------------------------------------------------------------------------


def check_single_head(tree: MigrationTree) -> None:
    """Fail unless the tree has exactly one head."""
    heads = tree.heads
    if len(heads) == 1:
        return
    if not heads:
        raise MigrationCheckFailed(f"{tree.ini_path}: the revision tree has no revisions")
    listed = "\n".join(f"  - {head.label}" for head in heads)
    raise MigrationCheckFailed(
        f"the revision tree has {len(heads)} heads:\n{listed}\n"
        "`alembic upgrade head` refuses to run. Merge them into one: "
        f"alembic merge -m 'merge heads' {' '.join(head.revision for head in heads)}"
    )


# -- stepping through revisions --------------------------------------------------------------


def _describe_error(exc: BaseException, tree: MigrationTree) -> str:
    """The error, the SQL statement behind it, and where in a migration script it was raised."""
    if isinstance(exc, SQLAlchemyError):
        orig = getattr(exc, "orig", None)
        source = orig if orig is not None else exc
        lines = [line for line in str(source).strip().splitlines() if line.strip()]
        # SQLAlchemy's own message repeats the statement and adds a link: keep the first lines.
        lines = [line for line in lines if not line.startswith(("[SQL:", "[parameters:", "(Back"))]
        text_ = f"{type(source).__name__}: {' '.join(lines[:3])}"
        statement = getattr(exc, "statement", None)
        if statement:
            sql = " ".join(str(statement).split())
            if len(sql) > _SQL_CHARS:
                sql = sql[:_SQL_CHARS] + " ..."
            text_ += f"\n    SQL: {sql}"
    else:
        text_ = f"{type(exc).__name__}: {exc}"
    where = _script_frame(exc, tree)
    if where:
        text_ += f"\n    at {where}"
    return text_


def _script_frame(exc: BaseException, tree: MigrationTree) -> str | None:
    """The innermost frame of *exc* inside a versions directory, as ``file:line in function``."""
    roots = tree.versions_dirs
    found = None
    for frame in traceback.extract_tb(exc.__traceback__):
        path = Path(frame.filename).resolve()
        for root in roots:
            if path.is_relative_to(root):
                shown = os.path.relpath(path, tree.ini_path.parent)
                found = f"{shown}:{frame.lineno} in {frame.name}()"
    return found
