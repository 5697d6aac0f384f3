"""The upgrade checks: base to head one revision at a time, and the stairway (up, down, up)."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import inspect as sa_inspect

if TYPE_CHECKING:
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy.engine import Connection

from harness.migrations.tree import (
    STAIRWAY,
    UPGRADE,
    MigrationCheckFailed,
    MigrationTree,
    Revision,
    _describe_error,
)

T = TypeVar("T")


class _Stepper:
    """Runs Alembic commands one step at a time on one connection, naming what failed."""

    def __init__(self, connection: Connection, tree: MigrationTree, backend: str, check: str):
        self.connection = connection
        self.tree = tree
        self.backend = backend
        self.check = check

    def fail(self, what: str) -> MigrationCheckFailed:
        return MigrationCheckFailed(f"{self.check}[{self.backend}]: {what}")

    def _finish(self) -> None:
        if self.connection.in_transaction():
            self.connection.commit()

    @contextmanager
    def _step(self, what: str) -> Iterator[None]:
        try:
            yield
        except MigrationCheckFailed:
            raise
        except Exception as exc:
            if self.connection.in_transaction():
                self.connection.rollback()
            raise self.fail(f"{what} failed:\n  {_describe_error(exc, self.tree)}") from None
        self._finish()

    def upgrade(self, revision: Revision, *, again: bool = False) -> None:
        from alembic import command

        what = f"revision {revision.label}: upgrade"
        if again:
            what += " (again, after its downgrade)"
        with self._step(what):
            command.upgrade(self.tree.config(self.connection), revision.revision)

    def downgrade(self, revision: Revision) -> None:
        from alembic import command

        target = _one_below(revision)
        with self._step(f"revision {revision.label}: downgrade to {target}"):
            command.downgrade(self.tree.config(self.connection), target)

    def upgrade_all(self) -> None:
        for revision in self.tree.revisions:
            self.upgrade(revision)

    def env_call(self, what: str, fn: Callable[[MigrationContext], T]) -> T:
        """Run the project's env.py on our connection and call *fn* with its MigrationContext.

        This is how ``alembic current`` works: env.py configures the context (version table,
        compare options, include filters, ...) and hands it to us instead of migrating.
        """
        from alembic.runtime.environment import EnvironmentContext

        results: list[T] = []

        def capture(rev: object, context: MigrationContext) -> list[Any]:
            results.append(fn(context))
            return []

        config = self.tree.config(self.connection)
        with (
            self._step(what),
            EnvironmentContext(config, self.tree.script, fn=capture, dont_mutate=True),
        ):
            self.tree.script.run_env()
        if not results:
            raise self.fail(f"{what}: env.py did not run its migrations function")
        return results[0]


def _one_below(revision: Revision) -> str:
    """The downgrade target that undoes just *revision*."""
    if not revision.down_revisions:
        return "base"
    # A merge point goes down to its first parent: Alembic undoes the other branches too
    # ("-1" is an ambiguous walk there), and the stairway compares with that state.
    return revision.down_revisions[0]


# -- upgrade base to head --------------------------------------------------------------------


def check_upgrade_base_to_head(connection: Connection, tree: MigrationTree, backend: str) -> None:
    """Upgrade an empty database one revision at a time; fail naming the first that breaks."""
    _Stepper(connection, tree, backend, UPGRADE).upgrade_all()


# -- stairway --------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """What a downgrade must put back: tables and their columns, views, sequences, enum types."""

    tables: dict[str, frozenset[str]]
    others: frozenset[tuple[str, str]]

    @classmethod
    def take(cls, connection: Connection, version_table: str) -> Snapshot:
        inspector = sa_inspect(connection)
        tables = {
            name: frozenset(column["name"] for column in inspector.get_columns(name))
            for name in inspector.get_table_names()
            if name != version_table
        }
        others = {("view", name) for name in inspector.get_view_names()}
        with contextlib.suppress(NotImplementedError):  # a dialect without sequences
            others |= {("sequence", name) for name in inspector.get_sequence_names()}
        # Only PostgreSQL's inspector has get_enums (its enum types outlive dropped tables).
        get_enums = getattr(inspector, "get_enums", None)
        if get_enums is not None:
            others |= {("enum type", enum["name"]) for enum in get_enums()}
        return cls(tables=tables, others=frozenset(others))

    def differences(self, after: Snapshot) -> list[str]:
        """What *after* has that this snapshot lacks ("left behind") and the reverse."""
        found = []
        for name in sorted(after.tables.keys() - self.tables.keys()):
            found.append(f"table {name} is still there")
        for name in sorted(self.tables.keys() - after.tables.keys()):
            found.append(f"table {name} is gone (it existed before the upgrade)")
        for name in sorted(self.tables.keys() & after.tables.keys()):
            for column in sorted(after.tables[name] - self.tables[name]):
                found.append(f"column {name}.{column} is still there")
            for column in sorted(self.tables[name] - after.tables[name]):
                found.append(f"column {name}.{column} is gone (it existed before the upgrade)")
        for kind, name in sorted(after.others - self.others):
            found.append(f"{kind} {name} is still there")
        for kind, name in sorted(self.others - after.others):
            found.append(f"{kind} {name} is gone (it existed before the upgrade)")
        return found


def check_stairway(connection: Connection, tree: MigrationTree, backend: str) -> None:
    """For each revision from base: upgrade, downgrade one step, upgrade again.

    After each downgrade the schema must be what it was at the same versions on the way up
    (snapshots are keyed by the set of applied heads, so branches and merges compare like with
    like); the upgrade again catches what a snapshot does not (an index, a constraint left over).
    """
    steps = _Stepper(connection, tree, backend, STAIRWAY)

    def state(context: MigrationContext) -> tuple[frozenset[str], Snapshot]:
        heads = frozenset(context.get_current_heads())
        return heads, Snapshot.take(connection, context.version_table)

    seen: dict[frozenset[str], Snapshot] = {}
    heads, snapshot = steps.env_call("reading the empty database", state)
    seen[heads] = snapshot
    for revision in tree.revisions:
        steps.upgrade(revision)
        heads, snapshot = steps.env_call(f"reading the schema after {revision.revision}", state)
        seen.setdefault(heads, snapshot)
        steps.downgrade(revision)
        heads, snapshot = steps.env_call(f"reading the schema after {revision.revision}", state)
        before = seen.get(heads)
        if before is not None:
            left = before.differences(snapshot)
            if left:
                where = ", ".join(sorted(heads)) or "base"
                raise steps.fail(
                    f"revision {revision.label}: its downgrade (to {where}) does not undo "
                    "its upgrade:\n" + "\n".join(f"  - {line}" for line in left)
                )
        steps.upgrade(revision, again=True)


# -- models vs schema ------------------------------------------------------------------------
