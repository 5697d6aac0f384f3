"""No input, however malformed, gets a 500: every endpoint answers 4xx and stays usable."""

from __future__ import annotations

import json

import pytest

JSON = {"content-type": "application/json"}
BOOK = {"title": "T", "isbn": "9780000000001", "format": "ebook", "price": "1.00"}

# (method, path, raw body or None): {id} is an existing author's, book's or review's id.
RAW_BODIES = [
    b'{"name": NaN}',
    b'{"name": Infinity}',
    b'{"name": "\\ud800"}',
    b'{"name": "ok", "bio": "\\udfff"}',
    b'{"\\ud800": 1}',
    b'{"name": "a\\u0000b"}',
    b'{"name": 1e400}',
    b'{"name": "' + b"x" * 100_000 + b'"}',
    b"[" * 100_000,
    b"1" * 10_000,
    b"\xff\xfe\x00",
    b'{"name": "unterminated',
    b"",
    b"null",
    b"[]",
    b'"just a string"',
]

BOOK_BODIES = [
    {**BOOK, "author_id": 10**40},
    {**BOOK, "author_id": -(2**63) - 1},
    {**BOOK, "author_id": 1.5},
    {**BOOK, "author_id": True},
    {**BOOK, "price": "1e-999999"},
    {**BOOK, "price": "0x10"},
    {**BOOK, "price": [1]},
    {**BOOK, "published_year": -(2**70)},
    {**BOOK, "tags": [["nested"]]},
    {**BOOK, "tags": {"a": 1}},
    {**BOOK, "stock": "many"},
    {**BOOK, "stock": False},
    {**BOOK, "published_year": True},
]


@pytest.mark.parametrize("body", RAW_BODIES, ids=lambda b: repr(b[:24]))
@pytest.mark.parametrize("url", ["/authors", "/authors/{author}"])
async def test_raw_author_bodies_are_rejected_with_4xx(client, url, body):
    author = (await client.post("/authors", json={"name": "Existing"})).json()
    method = "POST" if url == "/authors" else "PATCH"

    response = await client.request(
        method, url.format(author=author["id"]), content=body, headers=JSON
    )

    assert response.status_code in (400, 422), response.text
    json.loads(response.content)  # the error itself is valid JSON, whatever the input was
    assert (await client.get(f"/authors/{author['id']}")).json() == author


@pytest.mark.parametrize("payload", BOOK_BODIES, ids=str)
async def test_malformed_book_fields_are_422(client, payload):
    author = (await client.post("/authors", json={"name": "Existing"})).json()
    payload = {"author_id": author["id"], **payload}

    response = await client.post("/books", content=json.dumps(payload), headers=JSON)

    assert response.status_code == 422, response.text
    assert (await client.get("/books")).json()["total"] == 0


@pytest.mark.parametrize(
    "path",
    [
        "/authors/00000000000000000000000000000000000000001",
        "/authors/99999999999999999999999999999999999999999",
        "/authors/-99999999999999999999",
        "/authors/1e3",
        "/authors/NaN",
        "/authors/%00",
        "/authors/%F0%9F%93%9A",
        "/books/0x10",
        "/books/1.0",
        "/books/ 1",
        "/books/18446744073709551617/reviews",
        "/reviews/9223372036854775808",
        "/authors?limit=99999999999999999999999",
        "/authors?offset=9223372036854775808",
        "/authors?q=%00",
        "/books?min_price=NaN",
        "/books?min_price=-Infinity",
        "/books?max_price=1e999999999999",
        "/books?max_price=--1",
        "/books?published_year=1e5",
        "/books?author_id=18446744073709551617",
        "/books?available=2",
        "/books?sort=price;drop",
        "/books/1/reviews?min_rating=99999999999999999999",
    ],
)
async def test_malformed_paths_and_queries_are_4xx(client, path):
    response = await client.get(path)

    assert 400 <= response.status_code < 500, response.text


async def test_values_that_look_malformed_but_are_valid_are_accepted(client):
    # Leading zeros are still the number; a URL-decoded replacement character is just text.
    author = (await client.post("/authors", json={"name": "A"})).json()

    assert (await client.get(f"/authors/000{author['id']}")).status_code == 200
    assert (await client.get("/authors?q=%ED%A0%80")).status_code == 200
    assert (await client.get("/books?min_price=-0")).status_code == 200
    listed = await client.get("/books", params=[("author_id", 1), ("author_id", 2)])
    assert listed.status_code == 200  # the last value wins


async def test_the_api_works_after_a_burst_of_bad_requests(client):
    for body in RAW_BODIES:
        await client.post("/authors", content=body, headers=JSON)

    response = await client.post("/authors", json={"name": "Still Fine"})

    assert response.status_code == 201
    assert (await client.get("/authors")).json()["total"] == 1


async def test_the_openapi_schema_and_docs_are_served(client):
    schema = await client.get("/openapi.json")
    docs = await client.get("/docs")

    assert schema.status_code == 200
    assert set(schema.json()["paths"]) == {
        "/authors",
        "/authors/{author_id}",
        "/authors/{author_id}/books/bulk",
        "/books",
        "/books/{book_id}",
        "/books/{book_id}/reviews",
        "/reviews/{review_id}",
    }
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
