"""Reviews: created and listed under /books/{id}/reviews, then /reviews/{id}."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from app_under_test.models import Review


def parse_time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


async def make_book(client, n=1):
    author = await client.post("/authors", json={"name": f"Author {n}"})
    assert author.status_code == 201, author.text
    book = await client.post(
        "/books",
        json={
            "author_id": author.json()["id"],
            "title": f"Book {n}",
            "isbn": f"{9780000000000 + n}",
            "format": "ebook",
            "price": "3.00",
        },
    )
    assert book.status_code == 201, book.text
    return book.json()["id"]


async def make_review(client, book_id, **fields):
    payload = {"reviewer": "Ann", "rating": 4, **fields}
    response = await client.post(f"/books/{book_id}/reviews", json=payload)
    assert response.status_code == 201, response.text
    return response.json()


async def test_create(client, db_session):
    book_id = await make_book(client)

    review = await make_review(client, book_id, reviewer=" Ann ", rating=5, body="Loved it.")

    assert review["book_id"] == book_id
    assert (review["reviewer"], review["rating"], review["body"]) == ("Ann", 5, "Loved it.")
    row = await db_session.get(Review, review["id"])
    assert row is not None
    assert row.rating == 5


async def test_create_for_a_missing_book_is_404(client, db_session):
    response = await client.post("/books/31337/reviews", json={"reviewer": "A", "rating": 3})

    assert response.status_code == 404
    assert response.json() == {"detail": "book 31337 not found"}
    assert await db_session.scalar(select(func.count()).select_from(Review)) == 0


@pytest.mark.parametrize(
    "payload",
    [
        {"reviewer": "A", "rating": 0},
        {"reviewer": "A", "rating": 6},
        {"reviewer": "A", "rating": 4.5},
        {"reviewer": "A", "rating": 2**64},
        {"reviewer": "A", "rating": True},
        {"reviewer": "A"},
        {"rating": 3},
        {"reviewer": "x" * 101, "rating": 3},
        {"reviewer": "A", "rating": 3, "body": "x" * 10_001},
        {"reviewer": "A", "rating": 3, "body": "nul \x00"},
        {"reviewer": "A", "rating": 3, "book_id": 9},
    ],
)
async def test_create_rejects_invalid_input_with_422(client, db_session, payload):
    book_id = await make_book(client)

    response = await client.post(f"/books/{book_id}/reviews", json=payload)

    assert response.status_code == 422, response.text
    assert await db_session.scalar(select(func.count()).select_from(Review)) == 0


async def test_list_filters_by_rating_and_pages(client):
    book_id = await make_book(client, n=1)
    other_book = await make_book(client, n=2)
    ratings = [5, 1, 4, 2, 5, 3]
    ids = [(await make_review(client, book_id, rating=r))["id"] for r in ratings]
    await make_review(client, other_book, rating=5)

    everything = (await client.get(f"/books/{book_id}/reviews")).json()
    assert [r["id"] for r in everything["items"]] == ids
    assert everything["total"] == 6

    good = (await client.get(f"/books/{book_id}/reviews", params={"min_rating": 4})).json()
    assert [r["rating"] for r in good["items"]] == [5, 4, 5]
    assert good["total"] == 3

    page = (await client.get(f"/books/{book_id}/reviews", params={"limit": 2, "offset": 2})).json()
    assert [r["id"] for r in page["items"]] == ids[2:4]
    assert (page["total"], page["limit"], page["offset"]) == (6, 2, 2)


async def test_list_for_a_missing_book_is_404(client):
    response = await client.get("/books/31337/reviews")

    assert response.status_code == 404


@pytest.mark.parametrize("params", [{"min_rating": 0}, {"min_rating": 6}, {"limit": 0}])
async def test_list_rejects_bad_parameters_with_422(client, params):
    book_id = await make_book(client)

    response = await client.get(f"/books/{book_id}/reviews", params=params)

    assert response.status_code == 422


async def test_read_and_404(client):
    book_id = await make_book(client)
    review = await make_review(client, book_id)

    assert (await client.get(f"/reviews/{review['id']}")).json() == review
    assert (await client.get("/reviews/999")).status_code == 404
    assert (await client.get(f"/reviews/{2**64}")).status_code == 422


async def test_update(client):
    book_id = await make_book(client)
    review = await make_review(client, book_id, rating=2, body="meh")

    response = await client.patch(f"/reviews/{review['id']}", json={"rating": 3, "body": None})

    assert response.status_code == 200
    updated = response.json()
    assert (updated["rating"], updated["body"], updated["reviewer"]) == (3, None, "Ann")
    # Compared as times: "…:05Z" sorts after "…:05.5Z" as text.
    assert parse_time(updated["updated_at"]) >= parse_time(review["updated_at"])


@pytest.mark.parametrize(
    "payload", [{"rating": 9}, {"rating": None}, {"reviewer": None}, {"book_id": 2}]
)
async def test_update_rejects_invalid_input_with_422(client, payload):
    book_id = await make_book(client)
    review = await make_review(client, book_id)

    response = await client.patch(f"/reviews/{review['id']}", json=payload)

    assert response.status_code == 422
    assert (await client.get(f"/reviews/{review['id']}")).json() == review


async def test_update_missing_is_404(client):
    response = await client.patch("/reviews/999", json={"rating": 3})

    assert response.status_code == 404


async def test_delete(client, db_session):
    book_id = await make_book(client)
    review = await make_review(client, book_id)
    kept = await make_review(client, book_id)

    response = await client.delete(f"/reviews/{review['id']}")

    assert response.status_code == 204
    assert (await client.get(f"/reviews/{review['id']}")).status_code == 404
    assert (await client.delete(f"/reviews/{review['id']}")).status_code == 404
    remaining = await db_session.scalars(select(Review.id))
    assert list(remaining) == [kept["id"]]
