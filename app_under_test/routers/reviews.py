"""Reviews: created and listed under their book, read and changed at /reviews/{id}."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from app_under_test import crud
from app_under_test.deps import BookId, Limit, Offset, ReviewId, SessionDep
from app_under_test.errors import conflicts_as_409, not_found
from app_under_test.schemas import Page, Rating, ReviewCreate, ReviewPublic, ReviewUpdate

book_reviews_router = APIRouter(prefix="/books/{book_id}/reviews", tags=["reviews"])
router = APIRouter(prefix="/reviews", tags=["reviews"])


@book_reviews_router.post("", status_code=status.HTTP_201_CREATED)
async def create_review(session: SessionDep, book_id: BookId, data: ReviewCreate) -> ReviewPublic:
    if await crud.get_book(session, book_id=book_id) is None:
        raise not_found("book", book_id)
    # The book can still vanish before the insert (a concurrent delete): that is a 409.
    async with conflicts_as_409(session):
        review = await crud.create_review(session, book_id=book_id, data=data)
        await session.commit()
    await session.refresh(review)
    return ReviewPublic.model_validate(review)


@book_reviews_router.get("")
async def list_reviews(
    session: SessionDep,
    book_id: BookId,
    min_rating: Annotated[Rating | None, Query()] = None,
    limit: Limit = 20,
    offset: Offset = 0,
) -> Page[ReviewPublic]:
    if await crud.get_book(session, book_id=book_id) is None:
        raise not_found("book", book_id)
    reviews, total = await crud.list_reviews(
        session, book_id=book_id, min_rating=min_rating, limit=limit, offset=offset
    )
    return Page(
        items=[ReviewPublic.model_validate(r) for r in reviews],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.get("/{review_id}")
async def read_review(session: SessionDep, review_id: ReviewId) -> ReviewPublic:
    review = await crud.get_review(session, review_id=review_id)
    if review is None:
        raise not_found("review", review_id)
    return ReviewPublic.model_validate(review)


@router.patch("/{review_id}")
async def update_review(
    session: SessionDep, review_id: ReviewId, data: ReviewUpdate
) -> ReviewPublic:
    review = await crud.get_review(session, review_id=review_id)
    if review is None:
        raise not_found("review", review_id)
    await crud.update_review(session, review=review, data=data)
    await session.commit()
    await session.refresh(review)
    return ReviewPublic.model_validate(review)


@router.delete("/{review_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_review(session: SessionDep, review_id: ReviewId) -> None:
    review = await crud.get_review(session, review_id=review_id)
    if review is None:
        raise not_found("review", review_id)
    await crud.delete_review(session, review=review)
    await session.commit()
