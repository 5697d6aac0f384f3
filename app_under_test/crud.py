"""Database operations. Each one flushes and never commits: the route owns the transaction."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app_under_test.models import Author, Base, Book, BookFormat, Review
from app_under_test.schemas import (
    AuthorCreate,
    AuthorUpdate,
    BookCreate,
    BookFields,
    BookUpdate,
    ReviewCreate,
    ReviewUpdate,
)
from app_under_test.search import matches

M = TypeVar("M", bound=Base)

# Reads refresh what the session already holds (populate_existing): a session may outlive
# one request (tests share one across many), and ON DELETE CASCADE or a server-side default
# changes rows behind the identity map's back.


async def _page(
    session: AsyncSession,
    model: type[M],
    *,
    where: Sequence[ColumnElement[bool]],
    order_by: Sequence[Any],
    limit: int,
    offset: int,
) -> tuple[list[M], int]:
    """Return one page of the *model* rows matching *where*, and how many match in all."""
    total = await session.scalar(select(func.count()).select_from(model).where(*where))
    page = select(model).where(*where).order_by(*order_by).limit(limit).offset(offset)
    rows = await session.scalars(page.execution_options(populate_existing=True))
    return list(rows), total or 0


async def _apply(session: AsyncSession, row: M, changes: dict[str, Any]) -> M:
    for field, value in changes.items():
        setattr(row, field, value)
    await session.flush()
    return row


# Authors


async def create_author(session: AsyncSession, *, data: AuthorCreate) -> Author:
    author = Author(**data.model_dump())
    session.add(author)
    await session.flush()
    return author


async def get_author(session: AsyncSession, *, author_id: int) -> Author | None:
    return await session.get(Author, author_id, populate_existing=True)


async def list_authors(
    session: AsyncSession, *, q: str | None, limit: int, offset: int
) -> tuple[list[Author], int]:
    where = [] if q is None else [matches(Author.name_key, q)]
    return await _page(
        session, Author, where=where, order_by=[Author.id], limit=limit, offset=offset
    )


async def update_author(session: AsyncSession, *, author: Author, data: AuthorUpdate) -> Author:
    return await _apply(session, author, data.changes())


async def delete_author(session: AsyncSession, *, author: Author) -> None:
    # ON DELETE CASCADE removes the author's books and their reviews in the database.
    await session.delete(author)
    await session.flush()


# Books


class BookSort(str, enum.Enum):
    """Orders a book list can take. Each ends with ``id``, so pages never overlap.

    No sorting by title: PostgreSQL, MySQL and SQLite collate text differently, and the
    same list would come back in a different order on each.
    """

    ID = "id"
    ID_DESC = "-id"
    PRICE = "price"
    PRICE_DESC = "-price"


_BOOK_ORDER: dict[BookSort, Sequence[Any]] = {
    BookSort.ID: [Book.id],
    BookSort.ID_DESC: [Book.id.desc()],
    BookSort.PRICE: [Book.price, Book.id],
    BookSort.PRICE_DESC: [Book.price.desc(), Book.id.desc()],
}


@dataclass(frozen=True)
class BookFilters:
    author_id: int | None = None
    format: BookFormat | None = None
    available: bool | None = None
    in_stock: bool | None = None
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    published_year: int | None = None
    q: str | None = None


async def create_book(session: AsyncSession, *, data: BookCreate) -> Book:
    book = Book(**data.model_dump())
    session.add(book)
    await session.flush()
    return book


class BulkItemFailed(Exception):
    """One item of a bulk create failed; the caller must roll back the ones before it."""

    def __init__(self, index: int, item: BookFields) -> None:
        super().__init__(f"books[{index}] could not be written")
        self.index = index
        self.item = item


async def create_books(
    session: AsyncSession, *, author_id: int, items: Sequence[BookFields]
) -> list[Book]:
    """Write *items* one at a time, flushing each, so a failure names the item that failed.

    Raises `BulkItemFailed` (from the `IntegrityError`) with the earlier items already
    flushed: the caller rolls back.
    """
    books = []
    for index, item in enumerate(items):
        book = Book(author_id=author_id, **item.model_dump())
        session.add(book)
        try:
            await session.flush()
        except IntegrityError as exc:
            raise BulkItemFailed(index, item) from exc
        books.append(book)
    return books


async def get_book(session: AsyncSession, *, book_id: int) -> Book | None:
    return await session.get(Book, book_id, populate_existing=True)


async def isbn_taken(session: AsyncSession, *, isbn: str, other_than: int | None = None) -> bool:
    query = select(Book.id).where(Book.isbn == isbn)
    if other_than is not None:
        query = query.where(Book.id != other_than)
    return (await session.scalar(query.limit(1))) is not None


async def list_books(
    session: AsyncSession, *, filters: BookFilters, sort: BookSort, limit: int, offset: int
) -> tuple[list[Book], int]:
    where: list[ColumnElement[bool]] = []
    if filters.author_id is not None:
        where.append(Book.author_id == filters.author_id)
    if filters.format is not None:
        where.append(Book.format == filters.format)
    if filters.available is not None:
        where.append(Book.available == filters.available)
    if filters.in_stock is not None:
        where.append(Book.stock > 0 if filters.in_stock else Book.stock == 0)
    if filters.min_price is not None:
        where.append(Book.price >= filters.min_price)
    if filters.max_price is not None:
        where.append(Book.price <= filters.max_price)
    if filters.published_year is not None:
        where.append(Book.published_year == filters.published_year)
    if filters.q is not None:
        where.append(matches(Book.title_key, filters.q))
    return await _page(
        session, Book, where=where, order_by=_BOOK_ORDER[sort], limit=limit, offset=offset
    )


async def update_book(session: AsyncSession, *, book: Book, data: BookUpdate) -> Book:
    return await _apply(session, book, data.changes())


async def delete_book(session: AsyncSession, *, book: Book) -> None:
    await session.delete(book)
    await session.flush()


# Reviews


async def create_review(session: AsyncSession, *, book_id: int, data: ReviewCreate) -> Review:
    review = Review(book_id=book_id, **data.model_dump())
    session.add(review)
    await session.flush()
    return review


async def get_review(session: AsyncSession, *, review_id: int) -> Review | None:
    return await session.get(Review, review_id, populate_existing=True)


async def list_reviews(
    session: AsyncSession, *, book_id: int, min_rating: int | None, limit: int, offset: int
) -> tuple[list[Review], int]:
    where = [Review.book_id == book_id]
    if min_rating is not None:
        where.append(Review.rating >= min_rating)
    return await _page(
        session, Review, where=where, order_by=[Review.id], limit=limit, offset=offset
    )


async def update_review(session: AsyncSession, *, review: Review, data: ReviewUpdate) -> Review:
    return await _apply(session, review, data.changes())


async def delete_review(session: AsyncSession, *, review: Review) -> None:
    await session.delete(review)
    await session.flush()
