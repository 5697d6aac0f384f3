"""The reference app's revisions on a database that already holds rows (SQLite, no server).

The harness's own migration checks run every revision up and down on every backend, on
empty databases. What they cannot show is that 0002, which SQLite can only apply by
rebuilding ``books``, keeps the rows already there, and those of the tables pointing at it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, inspect, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"


async def migrate(engine: AsyncEngine, action: str, revision: str) -> None:
    """Run alembic's *action* the way the harness does: on a connection env.py is handed."""

    def run(connection: Connection) -> None:
        config = Config(str(ALEMBIC_INI))
        config.attributes["connection"] = connection
        getattr(command, action)(config, revision)

    async with engine.begin() as conn:
        await conn.run_sync(run)


async def columns(engine: AsyncEngine, table: str) -> list[str]:
    async with engine.connect() as conn:
        found = await conn.run_sync(lambda c: inspect(c).get_columns(table))
    return [column["name"] for column in found]


@pytest.fixture
async def engine(tmp_path: Path):
    # No foreign-keys pragma, as with the `alembic` command's own engine (see 0002's notes).
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'migrations.sqlite3'}")
    yield engine
    await engine.dispose()


async def test_0002_keeps_existing_rows_and_fills_the_new_column(engine):
    await migrate(engine, "upgrade", "0001")
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO authors (id, name, name_key) VALUES (1, 'A', 'a')"))
        await conn.execute(
            text(
                "INSERT INTO books (id, author_id, title, title_key, isbn, format, price, tags)"
                " VALUES (1, 1, 'B', 'b', '9780000000001', 'ebook', 2.5, '[]')"
            )
        )
        await conn.execute(
            text("INSERT INTO reviews (id, book_id, reviewer, rating) VALUES (1, 1, 'R', 5)")
        )

    await migrate(engine, "upgrade", "0002")

    async with engine.connect() as conn:
        book = (await conn.execute(text("SELECT title, stock, available FROM books"))).one()
        assert tuple(book) == ("B", 0, 1)
        assert (await conn.execute(text("SELECT count(*) FROM reviews"))).scalar_one() == 1
        indexes = await conn.run_sync(lambda c: inspect(c).get_indexes("books"))
        assert {"ix_books_stock", "ix_books_author_id"} <= {i["name"] for i in indexes}
        checks = await conn.run_sync(lambda c: inspect(c).get_check_constraints("books"))
        # The rebuild kept 0001's CHECK constraints and added 0002's.
        assert {c["name"] for c in checks} == {
            "ck_books_price_not_negative",
            "ck_books_book_format",
            "ck_books_stock_not_negative",
        }
    with pytest.raises(IntegrityError, match="ck_books_stock_not_negative"):
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE books SET stock = -1"))


async def test_0002_downgrades_to_the_rows_it_found(engine):
    await migrate(engine, "upgrade", "0001")
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO authors (id, name, name_key) VALUES (1, 'A', 'a')"))
        await conn.execute(
            text(
                "INSERT INTO books (id, author_id, title, title_key, isbn, format, price, tags)"
                " VALUES (1, 1, 'B', 'b', '9780000000001', 'ebook', 2.5, '[]')"
            )
        )
    await migrate(engine, "upgrade", "head")

    await migrate(engine, "downgrade", "0001")

    assert "stock" not in await columns(engine, "books")
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT title FROM books"))).scalar_one() == "B"
    await migrate(engine, "downgrade", "base")
    async with engine.connect() as conn:
        tables = await conn.run_sync(lambda c: inspect(c).get_table_names())
    assert tables == ["alembic_version"]
