"""Column types and SQL functions that behave the same on SQLite, PostgreSQL and MySQL/MariaDB.

Migrations import from this module, so what it renders as DDL must never change: add a new
type instead of altering one.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import DateTime, Text
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator, TypeEngine

UTC = dt.timezone.utc

#: DATETIME with microseconds on MySQL/MariaDB (their DATETIME keeps whole seconds by
#: default); TIMESTAMP WITH TIME ZONE on PostgreSQL; an ISO string on SQLite.
TIMESTAMP = DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

#: Text compared byte for byte. MySQL/MariaDB compare text with the column's collation, and
#: the usual ``utf8mb4_unicode_ci`` ignores case, accents and trailing spaces (``'café' LIKE
#: 'cafe'`` is true there and false everywhere else); ``utf8mb4_bin`` compares exactly, as
#: PostgreSQL and SQLite do.
BINARY_TEXT = Text().with_variant(mysql.TEXT(collation="utf8mb4_bin"), "mysql", "mariadb")


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp that is always timezone-aware UTC in Python, whatever the backend stores.

    PostgreSQL stores an instant (``timestamptz``); SQLite and MySQL store a wall-clock value
    with no zone, which this type writes and reads as UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        return dialect.type_descriptor(TIMESTAMP.dialect_impl(dialect))

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("UTCDateTime needs a timezone-aware datetime")
        # Every driver drops the zone of a wall-clock column: make that wall clock UTC's.
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        stored: dt.datetime = value
        if stored.tzinfo is None:
            return stored.replace(tzinfo=UTC)
        return stored.astimezone(UTC)


class utcnow(FunctionElement[dt.datetime]):
    """The current time as UTC, at the start of the statement, on every backend.

    Not ``CURRENT_TIMESTAMP``: on PostgreSQL that is the start of the *transaction* (every row
    written in one transaction, or in one test isolated in an outer transaction, would get
    the same time), and on MySQL/MariaDB it is local time in the session's time zone.
    """

    type = UTCDateTime()
    inherit_cache = True


@compiles(utcnow)
def _utcnow_default(element: utcnow, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite: UTC, whole seconds, statement time.
    return "CURRENT_TIMESTAMP"


@compiles(utcnow, "postgresql")
def _utcnow_postgresql(element: utcnow, compiler: SQLCompiler, **kw: Any) -> str:
    return "statement_timestamp()"


@compiles(utcnow, "mysql")
@compiles(utcnow, "mariadb")
def _utcnow_mysql(element: utcnow, compiler: SQLCompiler, **kw: Any) -> str:
    return "utc_timestamp(6)"
