"""/books: books, with filters, search and stable pagination."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from app_under_test import crud
from app_under_test.deps import BookId, Limit, Offset, SessionDep
from app_under_test.errors import conflicts_as_409, not_found
from app_under_test.models import BookFormat
from app_under_test.routers._conflicts import explain_book_conflict
from app_under_test.schemas import (
    INT32_MAX,
    BookCreate,
    BookPublic,
    BookUpdate,
    Money,
    Page,
    SearchTerm,
    Year,
)

router = APIRouter(prefix="/books", tags=["books"])


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_book(session: SessionDep, data: BookCreate) -> BookPublic:
    """Create a book. 409 if its ISBN is taken or its author does not exist."""

    async def explain() -> str | None:
        return await explain_book_conflict(session, isbn=data.isbn, author_id=data.author_id)

    async with conflicts_as_409(session, explain):
        book = await crud.create_book(session, data=data)
        await session.commit()
    await session.refresh(book)
    return BookPublic.model_validate(book)


@router.get("")
async def list_books(
    session: SessionDep,
    author_id: Annotated[int | None, Query(ge=1, le=INT32_MAX)] = None,
    format: BookFormat | None = None,
    available: bool | None = None,
    in_stock: Annotated[bool | None, Query(description="stock > 0, or == 0 if false")] = None,
    min_price: Annotated[Money | None, Query()] = None,
    max_price: Annotated[Money | None, Query()] = None,
    published_year: Annotated[Year | None, Query()] = None,
    q: Annotated[
        SearchTerm | None, Query(description="case-insensitive substring of the title")
    ] = None,
    sort: crud.BookSort = crud.BookSort.ID,
    limit: Limit = 20,
    offset: Offset = 0,
) -> Page[BookPublic]:
    filters = crud.BookFilters(
        author_id=author_id,
        format=format,
        available=available,
        in_stock=in_stock,
        min_price=min_price,
        max_price=max_price,
        published_year=published_year,
        q=q,
    )
    books, total = await crud.list_books(
        session, filters=filters, sort=sort, limit=limit, offset=offset
    )
    return Page(
        items=[BookPublic.model_validate(b) for b in books],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.get("/{book_id}")
async def read_book(session: SessionDep, book_id: BookId) -> BookPublic:
    book = await crud.get_book(session, book_id=book_id)
    if book is None:
        raise not_found("book", book_id)
    return BookPublic.model_validate(book)


@router.patch("/{book_id}")
async def update_book(session: SessionDep, book_id: BookId, data: BookUpdate) -> BookPublic:
    """Change some of a book's fields. 409 if the new ISBN is taken or the new author missing."""
    book = await crud.get_book(session, book_id=book_id)
    if book is None:
        raise not_found("book", book_id)

    async def explain() -> str | None:
        return await explain_book_conflict(
            session, isbn=data.isbn, author_id=data.author_id, book_id=book_id
        )

    async with conflicts_as_409(session, explain):
        await crud.update_book(session, book=book, data=data)
        await session.commit()
    await session.refresh(book)
    return BookPublic.model_validate(book)


@router.delete("/{book_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_book(session: SessionDep, book_id: BookId) -> None:
    """Delete the book and (ON DELETE CASCADE) its reviews."""
    book = await crud.get_book(session, book_id=book_id)
    if book is None:
        raise not_found("book", book_id)
    await crud.delete_book(session, book=book)
    await session.commit()
