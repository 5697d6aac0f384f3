"""The list endpoints send the same, constant number of statements on every backend.

A page of any size is one COUNT and one SELECT; an N+1 (a lazy load per row) would show here
as a count that grows with the rows.
"""

from __future__ import annotations

import pytest

from tests.app.test_api_books import make_author, make_book
from tests.app.test_api_reviews import make_review


@pytest.fixture
async def library(client):
    """Three authors, six books, four reviews on the first book, made through the API."""
    authors = [await make_author(client, name=f"Author {i}") for i in range(3)]
    books = [await make_book(client, authors[i % 3], n=i) for i in range(6)]
    for _ in range(4):
        await make_review(client, books[0]["id"])
    return books


@pytest.mark.parametrize("limit", [1, 5])
async def test_listing_authors_is_two_statements_at_any_page_size(
    client, db_queries, library, limit
):
    with db_queries.exactly(2):
        response = await client.get("/authors", params={"limit": limit})
    assert len(response.json()["items"]) == min(limit, 3)


@pytest.mark.parametrize(
    "params", [{}, {"limit": 2}, {"format": "paperback", "sort": "-price"}, {"q": "book"}]
)
async def test_listing_books_is_two_statements_whatever_the_filters(
    client, db_queries, library, params
):
    with db_queries.exactly(2):
        response = await client.get("/books", params=params)
    assert response.status_code == 200


async def test_listing_a_books_reviews_is_a_lookup_and_a_page(client, db_queries, library):
    with db_queries.exactly(3):  # the book exists? then COUNT and SELECT
        response = await client.get(f"/books/{library[0]['id']}/reviews")
    assert response.json()["total"] == 4
