"""The models-versus-schema check: autogenerate at head must find no difference."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import MetaData
    from sqlalchemy.engine import Connection

from harness.migrations.stairway import _Stepper
from harness.migrations.tree import MODEL_MATCH, MigrationTree


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
