"""/authors: authors, and the all-or-nothing bulk creation of an author's books."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from sqlalchemy import select

from app_under_test import crud
from app_under_test.deps import AuthorId, Limit, Offset, SessionDep
from app_under_test.errors import not_found
from app_under_test.models import Book
from app_under_test.routers._conflicts import explain_book_conflict
from app_under_test.schemas import (
    AuthorCreate,
    AuthorPublic,
    AuthorUpdate,
    BookBulkCreate,
    BookPublic,
    Page,
    SearchTerm,
)

router = APIRouter(prefix="/authors", tags=["authors"])


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_author(session: SessionDep, data: AuthorCreate) -> AuthorPublic:
    author = await crud.create_author(session, data=data)
    await session.commit()
    await session.refresh(author)
    return AuthorPublic.model_validate(author)


@router.get("")
async def list_authors(
    session: SessionDep,
    q: Annotated[
        SearchTerm | None, Query(description="case-insensitive substring of the name")
    ] = None,
    limit: Limit = 20,
    offset: Offset = 0,
) -> Page[AuthorPublic]:
    authors, total = await crud.list_authors(session, q=q, limit=limit, offset=offset)
    return Page(
        items=[AuthorPublic.model_validate(a) for a in authors],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.get("/{author_id}")
async def read_author(session: SessionDep, author_id: AuthorId) -> AuthorPublic:
    author = await crud.get_author(session, author_id=author_id)
    if author is None:
        raise not_found("author", author_id)
    return AuthorPublic.model_validate(author)


@router.patch("/{author_id}")
async def update_author(
    session: SessionDep, author_id: AuthorId, data: AuthorUpdate
) -> AuthorPublic:
    author = await crud.get_author(session, author_id=author_id)
    if author is None:
        raise not_found("author", author_id)
    await crud.update_author(session, author=author, data=data)
    await session.commit()
    await session.refresh(author)
    return AuthorPublic.model_validate(author)


@router.delete("/{author_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_author(session: SessionDep, author_id: AuthorId) -> None:
    """Delete the author, and with them (ON DELETE CASCADE) their books and reviews."""
    author = await crud.get_author(session, author_id=author_id)
    if author is None:
        raise not_found("author", author_id)
    await crud.delete_author(session, author=author)
    await session.commit()


@router.post(
    "/{author_id}/books/bulk",
    status_code=status.HTTP_201_CREATED,
    responses={
        status.HTTP_409_CONFLICT: {
            "description": "One book could not be written; none was. "
            '`detail` is `{"index": ..., "reason": ..., "message": ...}`.'
        }
    },
)
async def bulk_create_books(
    session: SessionDep, author_id: AuthorId, data: BookBulkCreate
) -> list[BookPublic]:
    """Create all the books for one author, or none of them.

    The books are written one by one; if one breaks a constraint (a duplicate ISBN), the
    session is rolled back, taking the books already written in this request with it, and the
    409 names the failed item's index in ``books`` and why it failed. Invalid items are a 422
    whose ``loc`` names them (``["body", "books", 2, "price"]``).
    """
    if await crud.get_author(session, author_id=author_id) is None:
        raise not_found("author", author_id)
    try:
        books = await crud.create_books(session, author_id=author_id, items=data.books)
    except crud.BulkItemFailed as failure:
        await session.rollback()
        reason = await explain_book_conflict(
            session,
            isbn=failure.item.isbn,
            author_id=author_id,
            earlier_isbns=[item.isbn for item in data.books[: failure.index]],
        )
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            {
                "index": failure.index,
                "reason": reason or "it conflicts with the current state of the data",
                "message": f"books[{failure.index}] could not be created, so no book was",
            },
        ) from None
    await session.commit()
    ids = [book.id for book in books]
    fresh = await session.scalars(
        select(Book)
        .where(Book.id.in_(ids))
        .order_by(Book.id)
        .execution_options(populate_existing=True)
    )
    return [BookPublic.model_validate(book) for book in fresh]
