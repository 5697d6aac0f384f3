"""Strategies for whole rows of SQLAlchemy models: rows, instances, row lists, references."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy
from sqlalchemy import (
    Column,
    Table,
    select,
)
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Mapper

from harness.hypothesis.checks import table_checks
from harness.hypothesis.columns import StrategyError, for_column

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession


T = TypeVar("T")


# --- whole rows --------------------------------------------------------------------------------


def _table_and_keys(model: Any) -> tuple[Table, dict[str, Column[Any]], type | None]:
    """The table, ``{key: column}`` (attribute keys for a model), and the mapped class."""
    if isinstance(model, Table):
        return model, {column.key: column for column in model.columns}, None
    mapper = sa_inspect(model, raiseerr=False)
    if not isinstance(mapper, Mapper):
        raise StrategyError(f"{model!r} is neither a mapped class nor a Table")
    table = mapper.local_table
    if not isinstance(table, Table):
        raise StrategyError(f"{model!r} is not mapped to a single table")
    keys: dict[str, Column[Any]] = {}
    for attribute in mapper.column_attrs:
        column = attribute.columns[0]
        if isinstance(column, Column) and column.table is table:
            keys[attribute.key] = column
    return table, keys, mapper.class_


def _server_generated(column: Column[Any], table: Table) -> bool:
    return (
        column is table.autoincrement_column
        or column.computed is not None
        or column.identity is not None
    )


def _has_default(column: Column[Any]) -> bool:
    return column.default is not None or column.server_default is not None


def _strategy(value: Any) -> SearchStrategy[Any]:
    return value if isinstance(value, SearchStrategy) else st.just(value)


def _column_strategies(
    model: Any,
    *,
    exclude: Collection[str],
    overrides: Mapping[str, Any] | None,
    references: Mapping[str, Any] | None,
    defaults: bool,
) -> tuple[dict[str, SearchStrategy[Any]], Table]:
    table, keys, _ = _table_and_keys(model)
    overrides = dict(overrides or {})
    references = dict(references or {})
    unknown = (set(overrides) | set(references) | set(exclude)) - set(keys)
    if unknown:
        raise StrategyError(
            f"{table.name} has no column(s) {', '.join(sorted(unknown))}; "
            f"its columns are {', '.join(keys)}"
        )
    checks = table_checks(table)
    drawn: dict[str, SearchStrategy[Any]] = {}
    for key, column in keys.items():
        if key in exclude:
            continue
        if key in overrides:
            drawn[key] = _strategy(overrides[key])
            continue
        if _server_generated(column, table) or (_has_default(column) and not defaults):
            continue
        if column.foreign_keys:
            drawn[key] = _reference(table, key, column, references.get(key))
            continue
        drawn[key] = for_column(column, bounds=checks.bounds.get(column.name))
    generated = {keys[key].name for key in drawn if key not in overrides}
    blocking = [check for check in checks.unreadable if check.columns & generated]
    if blocking:
        listed = "; ".join(str(check) for check in blocking)
        columns = sorted({name for check in blocking for name in check.columns & generated})
        raise StrategyError(
            f"{table.name}: cannot read CHECK constraint(s) {listed}. Pass "
            f"overrides={{...}} for {', '.join(columns)} with values that satisfy them, "
            "or exclude those columns"
        )
    return drawn, table


def _reference(table: Table, key: str, column: Column[Any], given: Any) -> SearchStrategy[Any]:
    targets = ", ".join(sorted(fk.target_fullname for fk in column.foreign_keys))
    if given is None:
        if column.nullable:
            return st.none()
        raise StrategyError(
            f"{table.name}.{column.name} references {targets}: pass references={{{key!r}: "
            "[existing keys]} (await existing_references(session, model) gives them), or "
            "overrides"
        )
    if isinstance(given, SearchStrategy):
        values = given
    else:
        keys = list(given)
        if not keys:
            if column.nullable:
                return st.none()
            raise StrategyError(
                f"{table.name}.{column.name} references {targets}, and there are no rows to "
                "reference: create some first"
            )
        values = st.sampled_from(keys)
    return st.none() | values if column.nullable else values


def rows(
    model: Any,
    *,
    exclude: Collection[str] = (),
    overrides: Mapping[str, Any] | None = None,
    references: Mapping[str, Any] | None = None,
    defaults: bool = False,
) -> SearchStrategy[dict[str, Any]]:
    """Dicts of column values for a new row of *model* (a mapped class or a ``Table``).

    Keys are attribute names for a mapped class (so ``Model(**row)`` works) and column keys
    for a table. Left out: the autoincrement primary key and computed or identity columns,
    columns in *exclude*, and columns with a default or server default unless *defaults*.

    *overrides* maps a key to a strategy (or a fixed value) for that column. Foreign keys are
    drawn from *references*, a key -> existing values (or a strategy) mapping; without one a
    nullable foreign key is None and a required one is an error that says what to pass.
    CHECK constraints that can be read (see :mod:`harness.hypothesis.checks`) bound the
    values; one that cannot, on a column being drawn, is an error naming it.
    """
    drawn, _ = _column_strategies(
        model, exclude=exclude, overrides=overrides, references=references, defaults=defaults
    )
    return st.fixed_dictionaries(drawn)


def instances(
    model: type[T],
    *,
    exclude: Collection[str] = (),
    overrides: Mapping[str, Any] | None = None,
    references: Mapping[str, Any] | None = None,
    defaults: bool = False,
) -> SearchStrategy[T]:
    """New (transient) instances of a mapped class, built from :func:`rows`."""
    return rows(
        model, exclude=exclude, overrides=overrides, references=references, defaults=defaults
    ).map(lambda values: model(**values))


def unique_keys(model: Any) -> list[tuple[str, ...]]:
    """The keys of each unique constraint (and unique column) of *model*'s table.

    The primary key is left out when it is server-generated.
    """
    table, keys, _ = _table_and_keys(model)
    by_name = {column.name: key for key, column in keys.items()}
    found: list[tuple[str, ...]] = []
    for constraint in table.constraints:
        names = [column.name for column in getattr(constraint, "columns", ())]
        is_unique = type(constraint).__name__ == "UniqueConstraint"
        is_primary = type(constraint).__name__ == "PrimaryKeyConstraint"
        if not names or not (is_unique or is_primary):
            continue
        if is_primary and all(_server_generated(table.c[name], table) for name in names):
            continue
        if all(name in by_name for name in names):
            found.append(tuple(by_name[name] for name in names))
    for column in table.columns:
        if column.unique and column.name in by_name:
            found.append((by_name[column.name],))
    for index in table.indexes:
        if index.unique:
            names = [getattr(c, "name", None) for c in index.expressions]
            if names and all(name in by_name for name in names):
                found.append(tuple(by_name[str(name)] for name in names))
    return list(dict.fromkeys(found))


def row_lists(
    model: Any,
    *,
    min_size: int = 0,
    max_size: int | None = 10,
    exclude: Collection[str] = (),
    overrides: Mapping[str, Any] | None = None,
    references: Mapping[str, Any] | None = None,
    defaults: bool = False,
) -> SearchStrategy[list[dict[str, Any]]]:
    """Lists of :func:`rows` whose unique columns differ, as Python compares them.

    Python's equality, not the database's: on MySQL/MariaDB, ``'a'`` and ``'A '`` collide in
    a unique column under the default collations. That is a difference worth a test of its
    own, not something this strategy hides.
    """
    drawn, _ = _column_strategies(
        model, exclude=exclude, overrides=overrides, references=references, defaults=defaults
    )
    keys = [k for k in unique_keys(model) if all(part in drawn for part in k)]

    def key_function(parts: tuple[str, ...]) -> Callable[[dict[str, Any]], Any]:
        def key(row: dict[str, Any]) -> Any:
            values = tuple(row[p] for p in parts)
            # NULLs never collide in a unique constraint (on every backend).
            return values if None not in values else object()

        return key

    return st.lists(
        st.fixed_dictionaries(drawn),
        min_size=min_size,
        max_size=max_size,
        unique_by=tuple(key_function(parts) for parts in keys) or None,
    )


async def existing_references(
    session: AsyncSession | AsyncConnection, model: Any, *, limit: int = 1000
) -> dict[str, list[Any]]:
    """For each foreign key of *model*: ``{key: [values present in the referred column]}``.

    Pass the result as ``references=`` to :func:`rows`. At most *limit* values per key.
    """
    _, keys, _ = _table_and_keys(model)
    found: dict[str, list[Any]] = {}
    for key, column in keys.items():
        for fk in column.foreign_keys:
            target = fk.column
            result = await session.execute(select(target).order_by(target).limit(limit))
            found[key] = list(result.scalars())
    return found
