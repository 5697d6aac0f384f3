"""Hypothesis strategies from SQLAlchemy models (and Pydantic schemas) valid on every backend.

``rows(Book)`` draws dicts of column values that SQLite, PostgreSQL and MySQL/MariaDB all
accept: each column's type and length, nullability, ``Numeric`` precision and scale, enums,
readable CHECK constraints, and foreign keys from rows that exist. ``payloads(BookCreate)``
does the same for a Pydantic schema (see :mod:`harness.hypothesis.schemas`).

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

from typing import Any

from hypothesis.strategies import SearchStrategy

from harness.hypothesis.columns import (
    DEFAULT_TEXT_SIZE,
    StrategyError,
    for_column,
    json_values,
    storable_characters,
    text,
)
from harness.hypothesis.models import existing_references, instances, row_lists, rows, unique_keys


def payloads(schema: Any, **kwargs: Any) -> SearchStrategy[dict[str, Any]]:
    """JSON-ready request bodies valid for a Pydantic model; see
    :func:`harness.hypothesis.schemas.payloads`."""
    from harness.hypothesis.schemas import payloads as _payloads

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
