"""Hypothesis strategies for Pydantic (v2) schemas: JSON request bodies the schema accepts.

``payloads(BookCreate)`` draws dicts as a client would send them (JSON types: a Decimal as a
string, a datetime in ISO format, an enum as its value), from each field's annotation and
constraints (``min_length``/``max_length``, ``ge``/``gt``/``le``/``lt``, ``max_digits`` and
``decimal_places``, ``pattern``, ``Literal``, enums, nested models, lists), and keeps only
those the schema validates (for custom validators it cannot read). Optional fields are
sometimes left out. Text follows :func:`harness.hypothesis.columns.text`: no NUL, no surrogates.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import types
import typing
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final, get_args, get_origin

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import to_jsonable_python

from harness.hypothesis.columns import (
    DEFAULT_TEXT_SIZE,
    MAX_DATETIME,
    MIN_DATETIME,
    UTC,
    StrategyError,
    json_values,
    storable_characters,
    text,
)

#: The most list items drawn when a schema gives no ``max_length``.
DEFAULT_LIST_SIZE: Final = 5
_CONSTRAINTS = (
    "gt",
    "ge",
    "lt",
    "le",
    "multiple_of",
    "min_length",
    "max_length",
    "pattern",
    "max_digits",
    "decimal_places",
)


@dataclasses.dataclass
class _Constraints:
    gt: Any = None
    ge: Any = None
    lt: Any = None
    le: Any = None
    multiple_of: Any = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    max_digits: int | None = None
    decimal_places: int | None = None

    def read(self, metadata: object) -> None:
        """Take the constraints an annotated-types or Pydantic metadata object carries."""
        if isinstance(metadata, FieldInfo):
            for inner in metadata.metadata:
                self.read(inner)
            return
        for name in _CONSTRAINTS:
            value = getattr(metadata, name, None)
            if value is not None:
                setattr(self, name, value)


def _unwrap(annotation: Any, constraints: _Constraints) -> Any:
    """Strip ``Annotated[...]`` layers, collecting their constraints."""
    while get_origin(annotation) is typing.Annotated:
        base, *extras = get_args(annotation)
        for extra in extras:
            constraints.read(extra)
        annotation = base
    return annotation


def _numbers(kind: type, c: _Constraints) -> SearchStrategy[Any]:
    if kind is int:
        lo = c.ge if c.ge is not None else (c.gt + 1 if c.gt is not None else None)
        hi = c.le if c.le is not None else (c.lt - 1 if c.lt is not None else None)
        values: SearchStrategy[Any] = st.integers(min_value=lo, max_value=hi)
        if c.multiple_of:
            step = int(c.multiple_of)
            values = values.map(lambda n: n - n % step).filter(
                lambda n: (lo is None or n >= lo) and (hi is None or n <= hi)
            )
        return values
    if kind is float:
        return st.floats(
            min_value=c.ge if c.ge is not None else c.gt,
            max_value=c.le if c.le is not None else c.lt,
            exclude_min=c.ge is None and c.gt is not None,
            exclude_max=c.le is None and c.lt is not None,
            allow_nan=False,
            allow_infinity=False,
        )
    # Decimal
    places = c.decimal_places
    lo_d = _decimal(c.ge if c.ge is not None else c.gt)
    hi_d = _decimal(c.le if c.le is not None else c.lt)
    if c.max_digits is not None:
        integer_digits = c.max_digits - (places or 0)
        limit = Decimal(10) ** integer_digits - Decimal(1).scaleb(-(places or 0))
        lo_d = -limit if lo_d is None else max(lo_d, -limit)
        hi_d = limit if hi_d is None else min(hi_d, limit)
    decimals = st.decimals(
        min_value=lo_d, max_value=hi_d, places=places, allow_nan=False, allow_infinity=False
    )
    if c.gt is not None:
        decimals = decimals.filter(lambda d: d > Decimal(str(c.gt)))
    if c.lt is not None:
        decimals = decimals.filter(lambda d: d < Decimal(str(c.lt)))
    return decimals


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _strings(c: _Constraints) -> SearchStrategy[str]:
    min_size = c.min_length or 0
    max_size = c.max_length if c.max_length is not None else max(DEFAULT_TEXT_SIZE, min_size)
    if c.pattern is not None:
        matching = st.from_regex(c.pattern, fullmatch=True, alphabet=storable_characters())
        return matching.filter(lambda s: min_size <= len(s) <= max_size)
    return text(min_size=min_size, max_size=max_size)


def for_annotation(annotation: Any, metadata: list[Any] | None = None) -> SearchStrategy[Any]:
    """Python values for a Pydantic field annotated *annotation* with *metadata* constraints."""
    constraints = _Constraints()
    for item in metadata or ():
        constraints.read(item)
    annotation = _unwrap(annotation, constraints)
    origin = get_origin(annotation)
    args = get_args(annotation)
    if annotation is type(None) or annotation is None:
        return st.none()
    if origin in (typing.Union, types.UnionType):
        # None first: a nullable field shrinks to null.
        members = sorted(args, key=lambda a: a is not type(None))
        return st.one_of([for_annotation(member, metadata) for member in members])
    if origin is typing.Literal:
        return st.sampled_from(args)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return st.sampled_from(list(annotation))
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _fields(annotation, overrides={})
    if annotation is bool:
        return st.booleans()
    if annotation in (int, float, Decimal):
        return _numbers(annotation, constraints)
    if annotation is str:
        return _strings(constraints)
    if annotation is bytes:
        return st.binary(min_size=constraints.min_length or 0, max_size=constraints.max_length)
    if annotation is dt.datetime:
        return st.datetimes(
            min_value=MIN_DATETIME + dt.timedelta(days=1),
            max_value=MAX_DATETIME - dt.timedelta(days=1),
            timezones=st.just(UTC),
        )
    if annotation is dt.date:
        return st.dates(min_value=MIN_DATETIME.date(), max_value=MAX_DATETIME.date())
    if annotation is uuid.UUID:
        return st.uuids()
    if annotation is Any:
        return json_values()
    if origin in (list, set, frozenset, tuple) or annotation in (list, set, tuple):
        item = args[0] if args else Any
        if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            return st.tuples(*(for_annotation(a) for a in args))
        items = st.lists(
            for_annotation(item),
            min_size=constraints.min_length or 0,
            max_size=(
                constraints.max_length if constraints.max_length is not None else DEFAULT_LIST_SIZE
            ),
            unique=origin in (set, frozenset),
        )
        return items if origin is list or origin is None else items.map(origin)
    if origin is dict or annotation is dict:
        key, value = args if args else (str, Any)
        return st.dictionaries(
            for_annotation(key), for_annotation(value), max_size=DEFAULT_LIST_SIZE
        )
    try:
        return st.from_type(annotation)
    except Exception as exc:
        raise StrategyError(
            f"no strategy for a field of type {annotation!r}: pass overrides={{...}}"
        ) from exc


def _fields(schema: type[BaseModel], overrides: Mapping[str, Any]) -> SearchStrategy[Any]:
    unknown = set(overrides) - set(schema.model_fields)
    if unknown:
        raise StrategyError(
            f"{schema.__name__} has no field(s) {', '.join(sorted(unknown))}; "
            f"its fields are {', '.join(schema.model_fields)}"
        )
    required: dict[str, SearchStrategy[Any]] = {}
    optional: dict[str, SearchStrategy[Any]] = {}
    for name, field in schema.model_fields.items():
        key = field.validation_alias if isinstance(field.validation_alias, str) else None
        key = key or field.alias or name
        if name in overrides:
            value = overrides[name]
            strategy = value if isinstance(value, SearchStrategy) else st.just(value)
        else:
            strategy = for_annotation(field.annotation, list(field.metadata))
        (required if field.is_required() else optional)[key] = strategy
    return st.fixed_dictionaries(required, optional=optional)


def payloads(
    schema: type[BaseModel], *, overrides: Mapping[str, Any] | None = None
) -> SearchStrategy[dict[str, Any]]:
    """JSON-ready dicts that ``schema.model_validate`` accepts, as a client would send them.

    *overrides* maps a field name to a strategy (or a fixed value) for it.
    """
    if not (isinstance(schema, type) and issubclass(schema, BaseModel)):
        raise StrategyError(f"{schema!r} is not a Pydantic model class")

    def valid(payload: dict[str, Any]) -> bool:
        try:
            schema.model_validate(payload)
        except ValidationError:
            return False
        return True

    drawn: SearchStrategy[dict[str, Any]] = (
        _fields(schema, overrides or {}).map(to_jsonable_python).filter(valid)
    )
    return drawn


__all__ = ["DEFAULT_LIST_SIZE", "for_annotation", "payloads"]
