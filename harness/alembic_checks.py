"""Alembic migration checks as plain functions: one head, base to head, stairway, models vs schema.

Everything here works on a sync ``Connection`` (run inside ``AsyncConnection.run_sync``) to a
scratch database of its own; `run_in_scratch_database` creates that database, runs a check in
it and drops it. The pytest layer is `harness.migration_checks`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import os
import shutil
import textwrap
import traceback
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar

from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

from harness.errors import HarnessError
from harness.migrations import alembic_config

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import Script, ScriptDirectory
    from sqlalchemy import MetaData
    from sqlalchemy.engine import URL, Connection

    from harness.backends.base import Backend

T = TypeVar("T")

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


def _type_name(type_: object, context: MigrationContext) -> str:
    try:
        return str(type_.compile(dialect=context.dialect))  # type: ignore[attr-defined]
    except Exception:  # a type this dialect cannot render: show what it is instead
        return repr(type_)


_MODELS_ONLY = "in the models but not in the database"
_DATABASE_ONLY = "in the database but not in the models"


def _default_text(default: object) -> object:
    """A server default as its SQL text (reflected ones are wrapped in DefaultClause)."""
    arg = getattr(default, "arg", default)
    return getattr(arg, "text", arg)


def _describe_diff(diff: Any, context: MigrationContext) -> str:
    """One autogenerate difference as a sentence (``compare_metadata``'s tuple format)."""
    if isinstance(diff, list):  # modify_* entries come grouped per column
        return "; ".join(_describe_diff(entry, context) for entry in diff)
    kind = diff[0]
    if kind in ("add_table", "remove_table"):
        where = _MODELS_ONLY if kind == "add_table" else _DATABASE_ONLY
        return f"table {diff[1].name} is {where}"
    if kind in ("add_column", "remove_column"):
        _, _, table, column = diff
        where = _MODELS_ONLY if kind == "add_column" else _DATABASE_ONLY
        return f"column {table}.{column.name} ({_type_name(column.type, context)}) is {where}"
    if kind.startswith("modify_"):
        _, _, table, column, _, old, new = diff
        what = kind.removeprefix("modify_").replace("_", " ")
        if kind == "modify_type":
            shown = _type_name(old, context), _type_name(new, context)
        elif kind == "modify_default":
            shown = repr(_default_text(old)), repr(_default_text(new))
        else:
            shown = repr(old), repr(new)
        return (
            f"column {table}.{column}: {what} is {shown[0]} in the database, "
            f"{shown[1]} in the models"
        )
    if kind.startswith(("add_", "remove_")):
        obj = diff[1]
        noun = kind.split("_", 1)[1].replace("fk", "foreign key")
        table = getattr(getattr(obj, "table", None), "name", None) or getattr(obj, "name", "")
        columns = ", ".join(getattr(c, "name", str(c)) for c in getattr(obj, "columns", ()))
        label = f"{noun} {getattr(obj, 'name', None) or '(unnamed)'} on {table}({columns})"
        where = _MODELS_ONLY if kind.startswith("add_") else _DATABASE_ONLY
        return f"{label} is {where}"
    return repr(diff)


def model_differences(
    context: MigrationContext, metadata: MetaData | Sequence[MetaData]
) -> tuple[list[str], str]:
    """Autogenerate's differences between *metadata* and the database, and the ops fixing them."""
    from alembic.autogenerate import produce_migrations, render_python_code

    script = produce_migrations(context, metadata)  # type: ignore[arg-type]  # takes a list too
    upgrade_ops = script.upgrade_ops
    assert upgrade_ops is not None
    if upgrade_ops.is_empty():
        return [], ""
    lines = [_describe_diff(diff, context) for diff in upgrade_ops.as_diffs()]
    # Rendered without the context: given one, alembic insists on env.py's target_metadata.
    code = render_python_code(upgrade_ops)
    body = [
        line for line in code.splitlines() if line.strip() and not line.strip().startswith("# ###")
    ]
    return lines, textwrap.dedent("\n".join(body))


def check_model_matches_schema(
    connection: Connection,
    tree: MigrationTree,
    backend: str,
    metadata: MetaData | None,
    metadata_name: str,
) -> None:
    """Upgrade to head, then fail if autogenerate finds any difference from *metadata*.

    The comparison runs in a context configured by the project's env.py, so its compare
    options (``compare_type``, ``compare_server_default``, ``include_object``, ...) apply.
    Without *metadata*, env.py's ``target_metadata`` is compared.
    """
    steps = _Stepper(connection, tree, backend, MODEL_MATCH)
    steps.upgrade_all()
    head = tree.revisions[-1] if tree.revisions else None

    def compare(context: MigrationContext) -> tuple[list[str], str] | None:
        target = metadata if metadata is not None else context.opts.get("target_metadata")
        if target is None:
            return None
        return model_differences(context, target)

    found = steps.env_call("comparing the models with the migrated schema", compare)
    if found is None:
        raise steps.fail(
            "there is no metadata to compare: set harness_metadata = 'package.module:Base' "
            "(or target_metadata in env.py)"
        )
    lines, code = found
    if not lines:
        return
    at = f"at head {head.label}" if head else "at head"
    listed = "\n".join(f"  - {line}" for line in lines)
    fix = "\n".join(f"      {line}" for line in code.splitlines())
    raise steps.fail(
        f"{at}, the migrated schema differs from {metadata_name}:\n{listed}\n"
        f"  a migration bringing the database to the models would run:\n{fix}"
    )


# -- scratch databases -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ScratchDatabase:
    """A database of the checks' own: created empty, dropped after; never the tests' one."""

    backend: Backend
    #: an admin URL of the server (None for embedded backends such as SQLite)
    server_url: URL | None
    #: the database's name on the server
    name: str
    #: a directory of its own, for embedded backends' files; removed after
    directory: Path

    def masked(self, message: str) -> str:
        password = self.server_url.password if self.server_url is not None else None
        return message.replace(str(password), "***") if password else message


async def _admin(url: URL, action: Callable[[AsyncConnection], Coroutine[Any, Any, None]]) -> None:
    engine = create_async_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await action(conn)
    finally:
        await engine.dispose()


async def _run_in(scratch: ScratchDatabase, fn: Callable[[Connection], T]) -> T:
    backend = scratch.backend
    if scratch.server_url is None:
        shutil.rmtree(scratch.directory, ignore_errors=True)
        scratch.directory.mkdir(parents=True)
        url = backend.embedded_url(scratch.directory)
    else:
        admin_url = scratch.server_url

        async def create(conn: AsyncConnection) -> None:
            await backend.drop_database(conn, scratch.name)  # only ever our own name
            await backend.create_database(conn, scratch.name)

        await _admin(admin_url, create)
        url = backend.database_url(admin_url, scratch.name)
    try:
        engine = create_async_engine(url, poolclass=NullPool)
        # The same engine set-up as the tests' database: on SQLite that is the savepoint fix
        # and foreign keys on, which migrations must survive there too.
        backend.prepare_engine(engine)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(fn)
        finally:
            await engine.dispose()
    finally:
        if scratch.server_url is None:
            shutil.rmtree(scratch.directory, ignore_errors=True)
        else:

            async def drop(conn: AsyncConnection) -> None:
                await backend.drop_database(conn, scratch.name)

            await _admin(scratch.server_url, drop)


def run_in_scratch_database(scratch: ScratchDatabase, fn: Callable[[Connection], T]) -> T:
    """Create *scratch*, call *fn* with a connection to it (in a greenlet), drop it.

    The event loop is private and runs in a thread of its own, so it never meets the loops
    pytest-asyncio keeps for the tests (nor replaces the thread's current loop).
    """
    pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="harness-checks")
    try:
        return pool.submit(asyncio.run, _run_in(scratch, fn)).result()
    except MigrationCheckFailed as exc:
        raise MigrationCheckFailed(scratch.masked(str(exc))) from None
    except (SQLAlchemyError, OSError) as exc:
        raise MigrationCheckFailed(
            scratch.masked(
                f"{scratch.backend.name}: cannot create or use the scratch database "
                f"{scratch.name!r}: {type(exc).__name__}: {exc}".splitlines()[0]
            )
        ) from None
    finally:
        # On Ctrl-C, don't wait for the check: the process is about to end anyway.
        pool.shutdown(wait=False)


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
