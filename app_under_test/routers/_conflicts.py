"""Explaining, after a rollback, which rule a rejected book broke."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app_under_test import crud


async def explain_book_conflict(
    session: AsyncSession,
    *,
    isbn: str | None,
    author_id: int | None = None,
    book_id: int | None = None,
    earlier_isbns: Sequence[str] = (),
) -> str | None:
    """Return why writing a book with these values broke a constraint, or None if unclear.

    Runs after the rollback: it sees the data as the request found it.
    """
    if isbn is not None and isbn in earlier_isbns:
        return f"ISBN {isbn} is also used by books[{earlier_isbns.index(isbn)}] in this request"
    if author_id is not None and await crud.get_author(session, author_id=author_id) is None:
        return f"author {author_id} does not exist"
    if isbn is not None and await crud.isbn_taken(session, isbn=isbn, other_than=book_id):
        return f"a book with ISBN {isbn} already exists"
    return None
