"""Case-insensitive substring search that gives the same answers on every backend.

Databases fold case differently: SQLite's ``lower()`` only knows ASCII, PostgreSQL's follows
the server's locale, and MySQL/MariaDB's default collations also ignore accents and trailing
spaces. So the folding happens here, in Python, once: each searchable column has a ``*_key``
twin holding :func:`fold` of its value, stored in a byte-exact column type
(:data:`app_under_test.sqltypes.BINARY_TEXT`), and a search is a plain ``LIKE`` of the folded
term against it, with ``%`` and ``_`` escaped.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from sqlalchemy import ColumnElement


def fold(text: str) -> str:
    """Return *text* normalised for caseless matching (NFKC, then Unicode case folding)."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


def matches(key_column: Any, term: str) -> ColumnElement[bool]:
    """Return a condition true where *key_column* (a folded key) contains *term*, caselessly."""
    return key_column.contains(fold(term), autoescape=True)  # type: ignore[no-any-return]
