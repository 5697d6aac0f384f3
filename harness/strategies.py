"""Hypothesis strategies from SQLAlchemy models (and Pydantic schemas) valid on every backend.

``rows(Book)`` draws dicts of column values that SQLite, PostgreSQL and MySQL/MariaDB all
accept: each column's type and length, nullability, ``Numeric`` precision and scale, enums,
readable CHECK constraints, and foreign keys from rows that exist. ``payloads(BookCreate)``
does the same for a Pydantic schema (see :mod:`harness.strategies_pydantic`).

What "valid everywhere" means, and what it deliberately does not hide:

* text never contains NUL (PostgreSQL refuses it in text) or surrogates (not UTF-8); any
  other character is drawn, including leading and trailing spaces, case variants and
  characters beyond the BMP, because backends *compare* them differently (MySQL/MariaDB's
  default collations ignore case and trailing spaces and rank all supplementary
  characters equal): a test that meets one of those has found a real difference to pin;
* integers stay within the column type's range (SQLite would store anything), decimals within
  ``Numeric(p, s)``, a bare ``Float`` within the six significant digits MySQL/MariaDB return
  for it (``Double`` is exact everywhere);
* datetimes are UTC (``timezone=True``) or naive, between years 1000 and 9999 (MySQL's range).

Strategies shrink towards short, plain values: ``None`` for nullable columns, the low bound
for numbers, ``'0'`` for text.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Collection, Mapping
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Double,
    Enum,
    Float,
    Integer,
    Interval,
    LargeBinary,
    Numeric,
    SmallInteger,
    String,
    Table,
    Time,
    Uuid,
    select,
)
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.dialects import mysql, postgresql
from sqlalchemy.orm import Mapper
from sqlalchemy.types import TypeDecorator, TypeEngine

from harness.errors import HarnessError
from harness.strategies_checks import Bounds, table_checks

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

T = TypeVar("T")

#: The longest text drawn for a column without a length (``Text``), to keep examples fast;
#: pass ``overrides`` for longer. (MySQL's TEXT holds 65,535 bytes: 16,383 characters.)
DEFAULT_TEXT_SIZE: Final = 50
#: The largest binary value drawn for a column without a length.
DEFAULT_BINARY_SIZE: Final = 64
#: The portable range of dates: MySQL/MariaDB's DATETIME and DATE.
MIN_DATETIME: Final = dt.datetime(1000, 1, 1)
MAX_DATETIME: Final = dt.datetime(9999, 12, 31, 23, 59, 59, 999999)
UTC: Final = dt.timezone.utc
#: Integer ranges by type; the generic ``Integer`` is 32-bit on PostgreSQL and MySQL.
INTEGER_RANGES: Final = {
    SmallInteger: (-(2**15), 2**15 - 1),
    Integer: (-(2**31), 2**31 - 1),
    BigInteger: (-(2**63), 2**63 - 1),
}
#: JSON integers that survive every backend's JSON type (and JavaScript): 53 bits.
JSON_INT_LIMIT: Final = 2**53 - 1


class StrategyError(HarnessError, ValueError):
    """A strategy cannot be built as asked (an unsupported type, a constraint it can't read)."""


# --- text ---------------------------------------------------------------------------------------


def storable_characters() -> SearchStrategy[str]:
    """Single characters every backend stores and returns unchanged.

    Everything but NUL (PostgreSQL rejects it in text and JSON) and the surrogates (not
    encodable in UTF-8).
    """
    return st.characters(exclude_categories=["Cs"], exclude_characters="\x00")


def text(*, min_size: int = 0, max_size: int | None = DEFAULT_TEXT_SIZE) -> SearchStrategy[str]:
    """Text of *min_size* to *max_size* characters, storable on every backend.

    Lengths count code points, as ``VARCHAR(n)`` does on PostgreSQL and MySQL/MariaDB
    (utf8mb4) alike.
    """
    return st.text(storable_characters(), min_size=min_size, max_size=max_size)


# --- one column ------------------------------------------------------------------------------


def _base_type(type_: TypeEngine[Any]) -> TypeEngine[Any]:
    """The type whose values a column takes: a TypeDecorator's ``impl``, unwrapped."""
    seen = 0
    while isinstance(type_, TypeDecorator) and seen < 10:
        type_ = type_.impl_instance
        seen += 1
    return type_


def _variants(type_: TypeEngine[Any]) -> list[TypeEngine[Any]]:
    """The type and each per-dialect variant of it (``with_variant``), unwrapped."""
    found = [type_]
    found.extend(getattr(type_, "_variant_mapping", {}).values())
    if isinstance(type_, TypeDecorator):
        # The dialect classes are unannotated in SQLAlchemy.
        dialects = (mysql.dialect(), postgresql.dialect())  # type: ignore[no-untyped-call]
        for dialect in dialects:
            try:
                found.append(type_.load_dialect_impl(dialect))
            except Exception:  # a decorator that only knows some dialects
                continue
    return [_base_type(t) for t in found]


def _integer_range(type_: TypeEngine[Any]) -> tuple[int, int]:
    for kind in (SmallInteger, BigInteger, Integer):
        if isinstance(type_, kind):
            return INTEGER_RANGES[kind]
    return INTEGER_RANGES[Integer]  # pragma: no cover - only integer types get here


def _grid_range(
    lo: Decimal, hi: Decimal, step: Decimal, bounds: Bounds | None
) -> tuple[Decimal, Decimal]:
    """Narrow [lo, hi] to the multiples of *step* that the CHECK bounds allow."""
    if bounds is not None and bounds.low is not None:
        first = (bounds.low / step).to_integral_value(rounding=ROUND_CEILING) * step
        if first == bounds.low and not bounds.low_inclusive:
            first += step
        lo = max(lo, first)
    if bounds is not None and bounds.high is not None:
        last = (bounds.high / step).to_integral_value(rounding=ROUND_FLOOR) * step
        if last == bounds.high and not bounds.high_inclusive:
            last -= step
        hi = min(hi, last)
    return lo, hi


def _integers(lo: int, hi: int, bounds: Bounds | None, described: str) -> SearchStrategy[int]:
    low, high = _grid_range(Decimal(lo), Decimal(hi), Decimal(1), bounds)
    if low > high:
        raise StrategyError(f"{described}: no integer satisfies its type and CHECK constraints")
    return st.integers(min_value=int(low), max_value=int(high))


def _numeric(type_: Numeric[Any], bounds: Bounds | None, described: str) -> SearchStrategy[Any]:
    # Numeric without precision is DECIMAL(10, 0) on MySQL/MariaDB: the portable reading.
    precision = type_.precision if type_.precision is not None else 10
    scale = type_.scale if type_.scale is not None else 0
    step = Decimal(1).scaleb(-scale)
    limit = Decimal(10) ** (precision - scale) - step
    lo, hi = _grid_range(-limit, limit, step, bounds)
    if lo > hi:
        raise StrategyError(
            f"{described}: no Numeric({precision}, {scale}) value satisfies its CHECK constraints"
        )
    values = st.decimals(
        min_value=lo, max_value=hi, places=scale, allow_nan=False, allow_infinity=False
    )
    if getattr(type_, "asdecimal", True):
        return values
    return values.map(float)


#: Significant digits MySQL/MariaDB send back for a 4-byte FLOAT (as text, like ``%g``).
FLOAT_DIGITS: Final = 6


def _float(type_: Float[Any], bounds: Bounds | None) -> SearchStrategy[Any]:
    # MySQL/MariaDB store a bare FLOAT in 4 bytes and send it back rounded to six significant
    # digits; DOUBLE (or FLOAT(25) and up) is 8 bytes everywhere.
    wide = isinstance(type_, Double) or (type_.precision is not None and type_.precision > 24)
    width: Literal[32, 64] = 64 if wide else 32
    low = bounds.low if bounds is not None else None
    high = bounds.high if bounds is not None else None
    values = st.floats(
        min_value=float(low) if low is not None else None,
        max_value=float(high) if high is not None else None,
        exclude_min=low is not None and bounds is not None and not bounds.low_inclusive,
        exclude_max=high is not None and bounds is not None and not bounds.high_inclusive,
        allow_nan=False,
        allow_infinity=False,
        allow_subnormal=False,
        width=width,
    )
    if not wide:
        values = values.map(lambda f: float(f"{f:.{FLOAT_DIGITS}g}")).filter(
            lambda f: (low is None or f >= low) and (high is None or f <= high)
        )
    if getattr(type_, "asdecimal", False):
        return values.map(lambda f: Decimal(repr(f)))
    return values


def _string(type_: String, bounds: Bounds | None, described: str) -> SearchStrategy[str]:
    max_size = type_.length if type_.length is not None else DEFAULT_TEXT_SIZE
    min_size = 0
    if bounds is not None:
        if bounds.max_length is not None:
            max_size = min(max_size, bounds.max_length)
        if bounds.min_length is not None:
            min_size = bounds.min_length
    if min_size > max_size:
        raise StrategyError(f"{described}: no text of length {min_size} to {max_size}")
    return text(min_size=min_size, max_size=max_size)


def _datetimes(timezone: bool) -> SearchStrategy[dt.datetime]:
    if timezone:
        # One day inside the range, so that any conversion to UTC stays in it.
        return st.datetimes(
            min_value=MIN_DATETIME + dt.timedelta(days=1),
            max_value=MAX_DATETIME - dt.timedelta(days=1),
            timezones=st.just(UTC),
        )
    return st.datetimes(min_value=MIN_DATETIME, max_value=MAX_DATETIME)


def _has_fractional_seconds(type_: TypeEngine[Any]) -> bool:
    """Whether every backend keeps microseconds: MySQL's DATETIME/TIME need ``fsp=6``."""
    for variant in _variants(type_):
        if isinstance(variant, (mysql.DATETIME, mysql.TIMESTAMP, mysql.TIME)):
            return bool(variant.fsp)
    return False  # the generic type is DATETIME/TIME without fsp on MySQL


def _rfc_4122(value: uuid.UUID) -> uuid.UUID:
    """*value* with the RFC 4122 variant bits (``10``), any version.

    MariaDB's native UUID type refuses a UUID of another variant whose version nibble is 8 or
    more; PostgreSQL and SQLite take any 128 bits.
    """
    return uuid.UUID(int=(value.int & ~(0xC000 << 48)) | (0x8000 << 48))


def json_values(*, max_leaves: int = 10) -> SearchStrategy[Any]:
    """JSON documents that every backend's JSON type stores and returns unchanged.

    Objects, arrays, strings (no NUL: PostgreSQL's jsonb refuses ``\\u0000``), booleans,
    null, and integers within 53 bits. No floats: PostgreSQL's jsonb and MySQL's JSON
    normalise them (``1.0`` comes back as ``1``), a difference to test on purpose.
    """
    scalars = (
        st.none()
        | st.booleans()
        | st.integers(min_value=-JSON_INT_LIMIT, max_value=JSON_INT_LIMIT)
        | text(max_size=20)
    )
    return st.recursive(
        scalars,
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(text(max_size=10), children, max_size=4)
        ),
        max_leaves=max_leaves,
    )


def _type_strategy(
    type_: TypeEngine[Any], bounds: Bounds | None, *, described: str
) -> SearchStrategy[Any]:
    base = _base_type(type_)
    if bounds is not None and bounds.choices is not None:
        return st.sampled_from(sorted(bounds.choices, key=repr))
    if isinstance(base, Enum):
        if base.enum_class is not None:
            return st.sampled_from(list(base.enum_class))
        return st.sampled_from(list(base.enums))
    if isinstance(base, Boolean):
        return st.booleans()
    if isinstance(base, Integer):
        lo, hi = _integer_range(base)
        return _integers(lo, hi, bounds, described)
    if isinstance(base, Float):
        return _float(base, bounds)
    if isinstance(base, Numeric):
        return _numeric(base, bounds, described)
    if isinstance(base, String):
        return _string(base, bounds, described)
    if isinstance(base, DateTime):
        values = _datetimes(bool(base.timezone))
        if not _has_fractional_seconds(type_):
            values = values.map(lambda d: d.replace(microsecond=0))
        return values
    if isinstance(base, Date):
        return st.dates(min_value=MIN_DATETIME.date(), max_value=MAX_DATETIME.date())
    if isinstance(base, Time):
        times = st.times()
        if not _has_fractional_seconds(type_):
            times = times.map(lambda t: t.replace(microsecond=0))
        return times
    if isinstance(base, Interval):
        return st.timedeltas(min_value=dt.timedelta(days=-9999), max_value=dt.timedelta(days=9999))
    if isinstance(base, JSON):
        return json_values()
    if isinstance(base, LargeBinary):
        return st.binary(max_size=base.length or DEFAULT_BINARY_SIZE)
    if isinstance(base, Uuid):
        uuids: SearchStrategy[Any] = st.uuids().map(_rfc_4122)
        return uuids if base.as_uuid else uuids.map(str)
    raise StrategyError(
        f"{described}: no strategy for type {type_!r}; pass overrides={{...: strategy}} "
        "for this column, or exclude it"
    )


def for_column(
    column: Any, *, bounds: Bounds | None = None, nullable: bool | None = None
) -> SearchStrategy[Any]:
    """Values for one column (a ``Column`` or a mapped attribute such as ``Book.price``).

    Honours its type, length, precision and scale, and nullability (``None`` first, so it
    shrinks there); *bounds* are what its table's CHECK constraints allow (``rows`` reads
    them for you).
    """
    col = _as_column(column)
    described = (
        f"{col.table.name}.{col.name}" if getattr(col, "table", None) is not None else col.name
    )
    values = _type_strategy(col.type, bounds, described=described)
    allow_null = col.nullable if nullable is None else nullable
    if bounds is not None and bounds.not_null:
        allow_null = False
    return st.none() | values if allow_null else values


def _as_column(column: Any) -> Column[Any]:
    if isinstance(column, Column):
        return column
    prop = getattr(column, "property", None)
    columns = getattr(prop, "columns", None)
    if columns:
        found = columns[0]
        if isinstance(found, Column):
            return found
    raise StrategyError(f"{column!r} is not a table column or a column attribute of a model")


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
    CHECK constraints that can be read (see :mod:`harness.strategies_checks`) bound the
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


def payloads(schema: Any, **kwargs: Any) -> SearchStrategy[dict[str, Any]]:
    """JSON-ready request bodies valid for a Pydantic model; see
    :func:`harness.strategies_pydantic.payloads`."""
    from harness.strategies_pydantic import payloads as _payloads

    drawn: SearchStrategy[dict[str, Any]] = _payloads(schema, **kwargs)
    return drawn


__all__ = [
    "DEFAULT_TEXT_SIZE",
    "StrategyError",
    "existing_references",
    "for_column",
    "instances",
    "json_values",
    "payloads",
    "row_lists",
    "rows",
    "storable_characters",
    "text",
    "unique_keys",
]
