"""Strategies for the values of one column, valid on every backend."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any, Final, Literal, TypeVar

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
    Time,
    Uuid,
)
from sqlalchemy.dialects import mysql, postgresql
from sqlalchemy.types import TypeDecorator, TypeEngine

from harness.errors import HarnessError
from harness.hypothesis.checks import Bounds

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
