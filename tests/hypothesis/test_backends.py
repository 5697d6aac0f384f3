"""Drawn rows round-trip unchanged on every backend; where backends differ, it is pinned.

The strategies promise values every backend stores and returns as they were given; each test
below the round trips pins one way the backends really differ, which the strategies leave in
(text comparison) or step around (a type's declared precision), so that a change in a
backend, a driver or a launcher's server settings shows up here first.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
import pytest_asyncio
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import delete, insert, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from app_under_test.models import Author, Book
from harness.run.state import BackendInfo
from harness.strategies import existing_references, rows
from tests.hypothesis.probe import metadata, parents, probe

#: Columns left out of the generic round trip, each pinned by its own test below.
PINNED_APART = {"wide", "moment_tz", "blob"}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def probe_tables(db_engine: AsyncEngine) -> AsyncIterator[None]:
    """The probe tables, created for this module (DDL commits on MySQL: never inside a test)."""
    async with db_engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield
    async with db_engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)


async def _parent_ids(conn: AsyncConnection, n: int = 3) -> list[int]:
    for _ in range(n):
        await conn.execute(insert(parents))
    return list((await conn.execute(select(parents.c.id))).scalars())


async def _mysql_collation(conn: AsyncConnection) -> str:
    return str((await conn.execute(text("SELECT @@collation_database"))).scalar_one())


@given(data=st.data())
async def test_probe_rows_round_trip(
    probe_tables: None, db_connection: AsyncConnection, data: st.DataObject
) -> None:
    ids = await _parent_ids(db_connection)
    row = data.draw(rows(probe, exclude=PINNED_APART, references={"parent_id": ids}), label="row")
    new_id = (await db_connection.execute(insert(probe).values(row))).inserted_primary_key[0]
    stored = (await db_connection.execute(select(probe).where(probe.c.id == new_id))).one()
    assert {key: getattr(stored, key) for key in row} == row


@given(data=st.data())
async def test_book_rows_round_trip_through_the_orm(
    db_session: AsyncSession, data: st.DataObject
) -> None:
    db_session.add_all([Author(name="a"), Author(name="b")])
    await db_session.flush()
    references = await existing_references(db_session, Book)
    values = data.draw(rows(Book, exclude={"title_key"}, references=references), label="book")
    book = Book(**values)
    db_session.add(book)
    await db_session.commit()
    db_session.expunge_all()
    stored = await db_session.get(Book, book.id)
    assert stored is not None
    assert {key: getattr(stored, key) for key in values} == values


# --- pinned differences ---------------------------------------------------------------------


async def _insert_probe(conn: AsyncConnection, **values: Any) -> int:
    base: dict[str, Any] = {
        "code": "xx",
        "small": 0,
        "amount": Decimal("0"),
        "flag": False,
        "colour": "RED",
        "level": 3,
        "score": 0,
    }
    result = await conn.execute(insert(probe).values({**base, **values}))
    return int(result.inserted_primary_key[0])


async def _get(conn: AsyncConnection, probe_id: int, column: str) -> Any:
    return (await conn.execute(select(probe.c[column]).where(probe.c.id == probe_id))).scalar_one()


async def test_unique_text_ignores_case_and_trailing_spaces_only_on_mysql(
    probe_tables: None, db_connection: AsyncConnection, db_backend: BackendInfo
) -> None:
    # MySQL/MariaDB compare with the column's collation: the default *_ci ones ignore case,
    # and PAD SPACE collations ignore trailing spaces. PostgreSQL (C collation here) and
    # SQLite compare code points.
    await _insert_probe(db_connection, code="ab")
    collides = db_backend.name == "mysql" and (await _mysql_collation(db_connection)).endswith(
        "_ci"
    )
    for variant in ("AB", "ab ", "Ab  "):
        async with db_connection.begin_nested() as savepoint:
            if collides:
                with pytest.raises(IntegrityError):
                    await _insert_probe(db_connection, code=variant)
            else:
                await _insert_probe(db_connection, code=variant)
            await savepoint.rollback()


async def _try_insert(conn: AsyncConnection, **values: Any) -> int | None:
    """Insert in a savepoint; the new id, or None if the database refused the row."""
    try:
        async with conn.begin_nested():
            return await _insert_probe(conn, **values)
    except DBAPIError:
        return None


async def test_supplementary_characters_are_all_equal_to_mysqls_unicode_ci(
    probe_tables: None, db_connection: AsyncConnection, db_backend: BackendInfo
) -> None:
    # The UCA 4.0.0 collations (utf8mb4_unicode_ci, utf8mb4_general_ci) give every character
    # beyond the BMP the same weight: two different emoji are a duplicate key.
    await _insert_probe(db_connection, code="\U0001f600\U0001f600")
    second = await _try_insert(db_connection, code="\U0001f680\U0001f680")
    collation = await _mysql_collation(db_connection) if db_backend.name == "mysql" else ""
    uca_4 = collation.startswith(("utf8mb4_unicode_ci", "utf8mb4_general_ci"))
    assert (second is None) == uca_4


async def test_nul_in_text_is_refused_only_by_postgresql(
    probe_tables: None, db_connection: AsyncConnection, db_backend: BackendInfo
) -> None:
    new_id = await _try_insert(db_connection, note="a\x00b")
    if db_backend.name == "postgresql":
        assert new_id is None
    else:
        assert new_id is not None
        assert await _get(db_connection, new_id, "note") == "a\x00b"


async def test_sqlite_rounds_a_numeric_wider_than_a_double(
    probe_tables: None, db_connection: AsyncConnection, db_backend: BackendInfo
) -> None:
    # SQLite has no decimal type: NUMERIC(20, 4) is stored as a float (about 15 significant
    # digits). The strategies draw the full precision the column declares.
    value = Decimal("1234567890123456.7891")
    new_id = await _insert_probe(db_connection, wide=value)
    stored = await _get(db_connection, new_id, "wide")
    if db_backend.name == "sqlite":
        assert stored != value
        assert abs(stored - value) < 1
    else:
        assert stored == value


@pytest.mark.parametrize(
    ("column", "value"),
    [("small", 2**15), ("code", "abcdef")],
    ids=["smallint-overflow", "varchar-too-long"],
)
async def test_only_sqlite_stores_a_value_its_type_does_not_hold(
    probe_tables: None,
    db_connection: AsyncConnection,
    db_backend: BackendInfo,
    column: str,
    value: Any,
) -> None:
    # SQLite's types are affinities, not limits; PostgreSQL and MySQL/MariaDB (strict mode)
    # refuse the row. The strategies stay within the declared type.
    new_id = await _try_insert(db_connection, **{column: value})
    if db_backend.name == "sqlite":
        assert new_id is not None
        assert await _get(db_connection, new_id, column) == value
    else:
        assert new_id is None


async def test_mysqls_plain_datetime_keeps_whole_seconds(
    probe_tables: None, db_connection: AsyncConnection, db_backend: BackendInfo
) -> None:
    # DATETIME without fsp has no fraction on MySQL/MariaDB; the strategies draw whole seconds
    # for such a column (and microseconds for DATETIME(6), as the reference app declares).
    value = dt.datetime(2001, 2, 3, 4, 5, 6, 789000)
    stored = await _get(db_connection, await _insert_probe(db_connection, moment=value), "moment")
    if db_backend.name == "mysql":
        assert stored.microsecond == 0
        assert stored.replace(microsecond=0) == value.replace(microsecond=0) or (
            stored == value.replace(microsecond=0) + dt.timedelta(seconds=1)
        )
    else:
        assert stored == value


async def test_timezone_aware_datetimes_come_back_naive_except_on_postgresql(
    probe_tables: None, db_connection: AsyncConnection, db_backend: BackendInfo
) -> None:
    # DateTime(timezone=True) is timestamptz on PostgreSQL (an instant, returned in UTC here);
    # SQLite and MySQL/MariaDB keep a wall-clock time and drop the zone. The reference app's
    # UTCDateTime type exists for this.
    utc = dt.datetime(2001, 2, 3, 4, 5, 6, tzinfo=dt.timezone.utc)
    stored = await _get(
        db_connection, await _insert_probe(db_connection, moment_tz=utc), "moment_tz"
    )
    if db_backend.name == "postgresql":
        assert stored == utc
        assert stored.utcoffset() == dt.timedelta(0)
    else:
        assert stored.tzinfo is None
        assert stored == utc.replace(tzinfo=None)


async def test_mysql_returns_six_significant_digits_of_a_float(
    probe_tables: None, db_connection: AsyncConnection, db_backend: BackendInfo
) -> None:
    stored = await _get(db_connection, await _insert_probe(db_connection, ratio=1000001.0), "ratio")
    assert stored == (1000000.0 if db_backend.name == "mysql" else 1000001.0)


async def test_sqlite_reuses_the_id_of_a_deleted_last_row(
    probe_tables: None, db_connection: AsyncConnection, db_backend: BackendInfo
) -> None:
    # An INTEGER PRIMARY KEY without AUTOINCREMENT is max(rowid) + 1 on SQLite; PostgreSQL's
    # sequences and MySQL's AUTO_INCREMENT never hand out an id twice.
    first = await _insert_probe(db_connection, code="aa")
    second = await _insert_probe(db_connection, code="bb")
    await db_connection.execute(delete(probe).where(probe.c.id == second))
    third = await _insert_probe(db_connection, code="cc")
    assert second > first
    assert (third == second) == (db_backend.name == "sqlite")


async def test_a_rolled_back_insert_uses_up_its_id_except_on_sqlite(
    probe_tables: None, db_connection: AsyncConnection, db_backend: BackendInfo
) -> None:
    # So ids differ between examples that do the same thing: never expect a particular id.
    async with db_connection.begin_nested() as savepoint:
        rolled_back = await _insert_probe(db_connection, code="aa")
        await savepoint.rollback()
    kept = await _insert_probe(db_connection, code="aa")
    assert (kept == rolled_back) == (db_backend.name == "sqlite")


async def test_like_ignores_ascii_case_on_sqlite_and_mysql_ci_not_on_postgresql(
    probe_tables: None, db_connection: AsyncConnection, db_backend: BackendInfo
) -> None:
    await _insert_probe(db_connection, code="Ab")
    found = (await db_connection.execute(select(probe.c.code).where(probe.c.code.like("a%")))).all()
    insensitive = db_backend.name == "sqlite" or (
        db_backend.name == "mysql" and (await _mysql_collation(db_connection)).endswith("_ci")
    )
    assert bool(found) == insensitive


async def test_text_order_differs_by_collation(
    probe_tables: None, db_connection: AsyncConnection, db_backend: BackendInfo
) -> None:
    for code in ("B1", "a2"):
        await _insert_probe(db_connection, code=code)
    ordered = list(
        (await db_connection.execute(select(probe.c.code).order_by(probe.c.code))).scalars()
    )
    if db_backend.name == "mysql" and (await _mysql_collation(db_connection)).endswith("_ci"):
        assert ordered == ["a2", "B1"]  # case-insensitive
    else:
        assert ordered == ["B1", "a2"]  # code points: every capital before every small letter


async def test_mariadbs_uuid_type_refuses_non_rfc_4122_values(
    probe_tables: None, db_connection: AsyncConnection, db_backend: BackendInfo
) -> None:
    # Version nibble 8 and the NCS variant: any 128 bits to PostgreSQL and SQLite. The
    # strategies draw the RFC 4122 variant only. SQLAlchemy 2.1 maps Uuid to MariaDB's own
    # UUID type, which refuses it; 2.0 maps it to CHAR(32), which takes anything.
    native = False
    if db_backend.name == "mysql":
        query = text(
            "SELECT DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() "
            "AND TABLE_NAME = 'harness_probe' AND COLUMN_NAME = 'token'"
        )
        native = (await db_connection.execute(query)).scalar_one().lower() == "uuid"
    odd = uuid.UUID("12345678-1234-8234-0234-123456789abc")
    refused = await _try_insert(db_connection, token=odd) is None
    assert refused == native


def _aiomysql_cannot_bind_bytes() -> bool:
    try:
        import pymysql.converters
    except ImportError:
        return False
    # PyMySQL 1.2 replaced this function (which aiomysql 0.3 imports) by a string.
    return isinstance(getattr(pymysql.converters, "escape_bytes_prefixed", None), str)


async def test_binary_values_round_trip(
    probe_tables: None, db_connection: AsyncConnection, db_backend: BackendInfo
) -> None:
    value = b"\x00\xff binary"
    if db_backend.name == "mysql" and _aiomysql_cannot_bind_bytes():
        # Not the server: aiomysql 0.3 with PyMySQL >= 1.2 cannot send bytes at all.
        with pytest.raises(TypeError, match="not callable"):
            await _insert_probe(db_connection, blob=value)
        return
    stored = await _get(db_connection, await _insert_probe(db_connection, blob=value), "blob")
    assert stored == value
