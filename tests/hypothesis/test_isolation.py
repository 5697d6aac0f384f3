"""Per-example isolation on the reference app's schema, on every backend."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
import pytest_asyncio
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app_under_test.models import Author, Book, BookFormat
from harness.hypothesis import ExampleIsolation, per_example
from harness.strategies import text as storable_text

ISBN = "9780000000001"


async def _count(session: AsyncSession, model: type[object]) -> int:
    return (await session.execute(select(func.count()).select_from(model))).scalar_one()


def _book(author: Author, **values: object) -> Book:
    defaults: dict[str, object] = {
        "title": "Dune",
        "isbn": ISBN,
        "format": BookFormat.PAPERBACK,
        "price": Decimal("9.99"),
        "tags": [],
    }
    return Book(author_id=author.id, **{**defaults, **values})


@given(title=storable_text(min_size=1, max_size=20))
async def test_a_committed_unique_row_does_not_leak_into_the_next_example(
    db_session: AsyncSession, title: str
) -> None:
    # Every example inserts the same ISBN (a unique column) and commits: without isolation
    # the second example would hit the unique constraint, and the counts would grow.
    assert await _count(db_session, Book) == 0
    assert await _count(db_session, Author) == 0
    author = Author(name="Frank Herbert")
    db_session.add(author)
    await db_session.flush()
    db_session.add(_book(author, title=title))
    await db_session.commit()
    assert await _count(db_session, Book) == 1


@given(st.integers(min_value=0, max_value=3))
async def test_the_identity_map_starts_empty_in_every_example(
    db_session: AsyncSession, n: int
) -> None:
    # The identity map holds objects weakly: keep them referenced, as an app would.
    assert len(db_session.identity_map) == 0
    authors = [Author(name=f"author {i}") for i in range(n + 1)]
    db_session.add_all(authors)
    await db_session.commit()
    assert len(db_session.identity_map) == n + 1


@pytest_asyncio.fixture
async def herbert(db_session: AsyncSession) -> AsyncIterator[Author]:
    """An author the fixture adds and flushes but does not commit."""
    author = Author(name="Frank Herbert")
    db_session.add(author)
    await db_session.flush()
    yield author


@given(delete=st.booleans())
async def test_fixture_state_is_every_examples_starting_point(
    db_session: AsyncSession, herbert: Author, delete: bool
) -> None:
    names = (await db_session.execute(select(Author.name))).scalars().all()
    assert names == ["Frank Herbert"]
    if delete:
        await db_session.delete(await db_session.get(Author, herbert.id))
        await db_session.commit()
        assert await _count(db_session, Author) == 0


# Storable text: PostgreSQL refuses NUL, which plain st.text() draws sooner or later.
@given(new_name=storable_text(min_size=1, max_size=20))
async def test_a_fixture_object_is_reloaded_after_an_example_changed_it(
    db_session: AsyncSession, herbert: Author, new_name: str
) -> None:
    # The previous example renamed (and committed) the fixture's object; the rename was rolled
    # back with the example, and the object in hand shows the row as it is again.
    assert herbert.name == "Frank Herbert"
    assert herbert in db_session
    herbert.name = new_name
    await db_session.commit()
    assert (await db_session.execute(select(Author.name))).scalar_one() == new_name


@given(fail=st.booleans())
async def test_an_example_that_fails_a_flush_leaves_a_usable_session(
    db_session: AsyncSession, fail: bool
) -> None:
    # A failed flush leaves the session needing a rollback (and PostgreSQL's transaction
    # aborted): the next example must start clean anyway.
    assert await _count(db_session, Book) == 0
    author = Author(name="x")
    db_session.add(author)
    await db_session.flush()
    db_session.add(_book(author))
    await db_session.flush()
    if fail:
        db_session.add(_book(author, title="again"))  # same ISBN
        with pytest.raises(IntegrityError):
            await db_session.flush()


async def test_explicit_isolation_in_a_loop(
    db_connection: AsyncConnection, db_session: AsyncSession
) -> None:
    isolation = per_example(db_connection, db_session)
    assert isinstance(isolation, ExampleIsolation)
    for _ in range(3):
        async with isolation:
            assert await _count(db_session, Author) == 0
            db_session.add(Author(name="once"))
            await db_session.commit()
            assert await _count(db_session, Author) == 1
    assert isolation.examples == 3
    assert await _count(db_session, Author) == 0


async def test_explicit_isolation_undoes_the_example_when_it_raises(
    db_connection: AsyncConnection, db_session: AsyncSession
) -> None:
    isolation = per_example(db_connection, db_session)

    async def failing_example() -> None:
        async with isolation:
            db_session.add(Author(name="lost"))
            await db_session.commit()
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        await failing_example()
    assert await _count(db_session, Author) == 0
    # and the isolation can be used again
    async with isolation:
        assert await _count(db_session, Author) == 0


async def test_isolation_is_not_reentrant(
    db_connection: AsyncConnection, db_session: AsyncSession
) -> None:
    isolation = per_example(db_connection, db_session)
    async with isolation:
        with pytest.raises(RuntimeError, match="already"):
            async with isolation:
                pass
