"""/books: CRUD, conflicts (409), validation (422), filters, sorting and search."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from app_under_test.models import Book, Review


def parse_time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


async def make_author(client, name="Ursula K. Le Guin"):
    response = await client.post("/authors", json={"name": name})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def book_payload(author_id, n=1, **fields):
    return {
        "author_id": author_id,
        "title": f"Book {n}",
        "isbn": f"{9780000000000 + n}",
        "format": "paperback",
        "price": "10.00",
        **fields,
    }


async def make_book(client, author_id, n=1, **fields):
    response = await client.post("/books", json=book_payload(author_id, n, **fields))
    assert response.status_code == 201, response.text
    return response.json()


async def test_create_returns_the_stored_book(client, db_session):
    author_id = await make_author(client)

    response = await client.post(
        "/books",
        json={
            "author_id": author_id,
            "title": "The Dispossessed",
            "isbn": "978-0-06-051275-3",
            "format": "hardcover",
            "price": 12.5,
            "published_year": 1974,
            "tags": ["utopia", "anarchism", "日本語", "emoji 📚"],
            "description": "An ambiguous utopia.\nTwo worlds.",
        },
    )

    assert response.status_code == 201, response.text
    book = response.json()
    assert book["isbn"] == "9780060512753"  # hyphens dropped
    assert book["price"] == "12.50"  # NUMERIC(10, 2): the scale is kept, as a string
    assert book["format"] == "hardcover"
    assert book["tags"] == ["utopia", "anarchism", "日本語", "emoji 📚"]
    assert book["description"] == "An ambiguous utopia.\nTwo worlds."
    assert book["available"] is True  # server default
    assert book["stock"] == 0  # server default (added by the second migration)
    assert parse_time(book["created_at"]).utcoffset() == dt.timedelta(0)
    row = await db_session.get(Book, book["id"])
    assert row is not None
    assert str(row.price) == "12.50"
    assert row.title_key == "the dispossessed"


async def test_create_with_a_taken_isbn_is_409_and_keeps_the_first(client, db_session):
    author_id = await make_author(client)
    first = await make_book(client, author_id, n=1, title="First")

    response = await client.post("/books", json=book_payload(author_id, n=1, title="Second"))

    assert response.status_code == 409
    assert response.json() == {"detail": "a book with ISBN 9780000000001 already exists"}
    assert (await client.get(f"/books/{first['id']}")).json()["title"] == "First"
    assert await db_session.scalar(select(func.count()).select_from(Book)) == 1


async def test_a_conflict_leaves_the_session_usable(client):
    author_id = await make_author(client)
    await make_book(client, author_id, n=1)
    assert (await client.post("/books", json=book_payload(author_id, n=1))).status_code == 409

    # After the rollback the next request works (PostgreSQL aborts a transaction on error).
    second = await make_book(client, author_id, n=2)

    listed = (await client.get("/books")).json()
    assert [b["id"] for b in listed["items"]][-1] == second["id"]
    assert listed["total"] == 2


async def test_create_for_a_missing_author_is_409(client, db_session):
    response = await client.post("/books", json=book_payload(12345))

    assert response.status_code == 409
    assert response.json() == {"detail": "author 12345 does not exist"}
    assert await db_session.scalar(select(func.count()).select_from(Book)) == 0


async def test_conflict_messages_never_carry_driver_text(client):
    author_id = await make_author(client)
    await make_book(client, author_id, n=1)

    for payload in (book_payload(author_id, n=1), book_payload(99999, n=2)):
        text = (await client.post("/books", json=payload)).text.lower()
        for leak in ("integrity", "constraint", "uq_books", "fk_books", "unique", "duplicate"):
            assert leak not in text


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("price", "NaN"),
        ("price", "Infinity"),
        ("price", "-Infinity"),
        ("price", "-0.01"),
        ("price", "12.345"),
        ("price", "123456789.00"),  # 11 digits: NUMERIC(10, 2) holds 8 before the point
        ("price", "1e999999"),
        ("price", 1e308),
        ("price", "cheap"),
        ("price", None),
        ("isbn", "123"),
        ("isbn", "97800000000011"),
        ("isbn", "978000000000X"),
        ("isbn", "٩٧٨٠٠٠٠٠٠٠٠٠١"),  # Arabic-Indic digits are digits to \d, not to us
        ("format", "scroll"),
        ("format", "PAPERBACK"),
        ("title", "x" * 201),
        ("title", ""),
        ("title", "a\x00b"),
        ("description", "x" * 10_001),
        ("published_year", 0),
        ("published_year", 10_000),
        ("published_year", 2**63),
        ("stock", -1),
        ("stock", 2**31),
        ("tags", ["x"] * 21),
        ("tags", ["x" * 51]),
        ("tags", [""]),
        ("tags", "not a list"),
        ("tags", [1, 2]),
        ("available", "perhaps"),
        ("author_id", 0),
        ("author_id", 2**31),
        ("author_id", 2**64 + 1),
        ("author_id", 10**100),
        ("author_id", "one"),
    ],
)
async def test_create_rejects_invalid_fields_with_422(client, db_session, field, value):
    author_id = await make_author(client)

    payload = {**book_payload(author_id), field: value}

    response = await client.post("/books", json=payload)

    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"][:2] == ["body", field]
    assert await db_session.scalar(select(func.count()).select_from(Book)) == 0


async def test_negative_zero_price_is_stored_as_zero(client):
    author_id = await make_author(client)

    book = await make_book(client, author_id, price="-0.00")

    assert book["price"] == "0.00"
    assert (await client.get(f"/books/{book['id']}")).json()["price"] == "0.00"


async def test_the_largest_price_round_trips_exactly(client):
    author_id = await make_author(client)

    book = await make_book(client, author_id, price="99999999.99")

    assert (await client.get(f"/books/{book['id']}")).json()["price"] == "99999999.99"


async def test_read_and_404(client):
    author_id = await make_author(client)
    book = await make_book(client, author_id)

    assert (await client.get(f"/books/{book['id']}")).json() == book
    missing = await client.get("/books/424242")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "book 424242 not found"}
    assert (await client.get(f"/books/{2**70}")).status_code == 422


async def _catalogue(client):
    """Two authors and six books with distinct filterable values; returns {title: book}."""
    le_guin = await make_author(client, "Le Guin")
    butler = await make_author(client, "Butler")
    rows = [
        (le_guin, "A Wizard of Earthsea", "paperback", "8.99", 1968, True, 3),
        (le_guin, "The Tombs of Atuan", "paperback", "8.99", 1971, True, 0),
        (le_guin, "The Farthest Shore", "hardcover", "24.00", 1972, False, 1),
        (butler, "Kindred", "ebook", "5.00", 1979, True, 0),
        (butler, "Parable of the Sower", "paperback", "12.00", 1993, True, 7),
        (butler, "Wild Seed", "audiobook", "30.00", 1980, False, 0),
    ]
    books = {}
    for n, (author_id, title, fmt, price, year, available, stock) in enumerate(rows):
        books[title] = await make_book(
            client,
            author_id,
            n=n,
            title=title,
            format=fmt,
            price=price,
            published_year=year,
            available=available,
            stock=stock,
        )
    return books, le_guin, butler


async def titles(client, **params):
    response = await client.get("/books", params=params)
    assert response.status_code == 200, response.text
    page = response.json()
    return [b["title"] for b in page["items"]], page["total"]


async def test_list_filters(client):
    _, le_guin, butler = await _catalogue(client)

    assert await titles(client, author_id=butler) == (
        ["Kindred", "Parable of the Sower", "Wild Seed"],
        3,
    )
    assert await titles(client, format="paperback", author_id=le_guin) == (
        ["A Wizard of Earthsea", "The Tombs of Atuan"],
        2,
    )
    assert await titles(client, available="false") == (["The Farthest Shore", "Wild Seed"], 2)
    assert await titles(client, in_stock="true") == (
        ["A Wizard of Earthsea", "The Farthest Shore", "Parable of the Sower"],
        3,
    )
    assert (await titles(client, in_stock="false"))[1] == 3
    assert await titles(client, min_price="8.99", max_price="12") == (
        ["A Wizard of Earthsea", "The Tombs of Atuan", "Parable of the Sower"],
        3,
    )
    assert await titles(client, published_year=1979) == (["Kindred"], 1)
    assert await titles(client, q="THE") == (
        ["The Tombs of Atuan", "The Farthest Shore", "Parable of the Sower"],
        3,
    )
    assert await titles(client, q="sea", format="paperback") == (["A Wizard of Earthsea"], 1)
    assert await titles(client, author_id=999) == ([], 0)


async def test_list_sorts_by_price_with_ties_broken_by_id(client):
    books, *_ = await _catalogue(client)

    ascending, _ = await titles(client, sort="price")
    descending, _ = await titles(client, sort="-price")

    assert ascending == [
        "Kindred",
        "A Wizard of Earthsea",
        "The Tombs of Atuan",
        "Parable of the Sower",
        "The Farthest Shore",
        "Wild Seed",
    ]
    assert descending == list(reversed(ascending))
    assert (await titles(client, sort="-id"))[0] == list(reversed(list(books)))


async def test_list_pages_do_not_overlap_or_skip(client):
    await _catalogue(client)

    seen = []
    for offset in range(0, 6, 4):
        page, total = await titles(client, sort="price", limit=4, offset=offset)
        assert total == 6
        seen += page

    assert seen == (await titles(client, sort="price"))[0]
    assert len(set(seen)) == 6


@pytest.mark.parametrize(
    "params",
    [
        {"author_id": 0},
        {"author_id": 2**64},
        {"format": "scroll"},
        {"available": "perhaps"},
        {"min_price": "NaN"},
        {"max_price": "Infinity"},
        {"min_price": "-1"},
        {"min_price": "1" * 400},
        {"published_year": 2**70},
        {"q": "\x00"},
        {"sort": "title"},
        {"limit": 1000},
        {"offset": -5},
    ],
)
async def test_list_rejects_bad_parameters_with_422(client, params):
    response = await client.get("/books", params=params)

    assert response.status_code == 422, response.text


async def test_update(client, db_session):
    author_id = await make_author(client)
    other_author = await make_author(client, "Other")
    book = await make_book(client, author_id, title="Draft", tags=["a"])

    response = await client.patch(
        f"/books/{book['id']}",
        json={
            "title": "Final",
            "price": "19.90",
            "stock": 4,
            "tags": [],
            "description": None,
            "author_id": other_author,
        },
    )

    assert response.status_code == 200, response.text
    updated = response.json()
    assert (updated["title"], updated["price"], updated["stock"], updated["tags"]) == (
        "Final",
        "19.90",
        4,
        [],
    )
    assert updated["author_id"] == other_author
    assert updated["isbn"] == book["isbn"]
    # Compared as times: "…:05Z" sorts after "…:05.5Z" as text.
    assert parse_time(updated["updated_at"]) >= parse_time(book["updated_at"])
    assert (await titles(client, q="final"))[1] == 1
    assert (await titles(client, q="draft"))[1] == 0
    row = await db_session.get(Book, book["id"])
    assert row is not None
    assert row.stock == 4


async def test_update_to_a_taken_isbn_is_409_and_changes_nothing(client):
    author_id = await make_author(client)
    await make_book(client, author_id, n=1)
    second = await make_book(client, author_id, n=2)

    response = await client.patch(
        f"/books/{second['id']}", json={"isbn": "9780000000001", "title": "Changed"}
    )

    assert response.status_code == 409
    assert response.json() == {"detail": "a book with ISBN 9780000000001 already exists"}
    assert (await client.get(f"/books/{second['id']}")).json() == second


async def test_update_keeping_its_own_isbn_is_fine(client):
    author_id = await make_author(client)
    book = await make_book(client, author_id)

    response = await client.patch(f"/books/{book['id']}", json={"isbn": book["isbn"]})

    assert response.status_code == 200


async def test_update_to_a_missing_author_is_409(client):
    author_id = await make_author(client)
    book = await make_book(client, author_id)

    response = await client.patch(f"/books/{book['id']}", json={"author_id": 777})

    assert response.status_code == 409
    assert response.json() == {"detail": "author 777 does not exist"}
    assert (await client.get(f"/books/{book['id']}")).json()["author_id"] == author_id


@pytest.mark.parametrize(
    "payload",
    [
        {"title": None},
        {"price": None},
        {"isbn": None},
        {"format": None},
        {"tags": None},
        {"stock": None},
        {"available": None},
        {"author_id": None},
        {"stock": -1},
        {"price": "NaN"},
        {"isbn": "nope"},
        {"id": 3},
    ],
)
async def test_update_rejects_invalid_input_with_422(client, payload):
    author_id = await make_author(client)
    book = await make_book(client, author_id)

    response = await client.patch(f"/books/{book['id']}", json=payload)

    assert response.status_code == 422, response.text
    assert (await client.get(f"/books/{book['id']}")).json() == book


async def test_update_missing_is_404(client):
    response = await client.patch("/books/999", json={"title": "x"})

    assert response.status_code == 404


async def test_delete_cascades_to_reviews(client, db_session):
    author_id = await make_author(client)
    book = await make_book(client, author_id, n=1)
    kept = await make_book(client, author_id, n=2)
    for target in (book, book, kept):
        response = await client.post(
            f"/books/{target['id']}/reviews", json={"reviewer": "r", "rating": 3}
        )
        assert response.status_code == 201

    response = await client.delete(f"/books/{book['id']}")

    assert response.status_code == 204
    assert (await client.get(f"/books/{book['id']}")).status_code == 404
    assert (await client.delete(f"/books/{book['id']}")).status_code == 404
    assert await db_session.scalar(select(func.count()).select_from(Review)) == 1
    assert (await client.get(f"/books/{kept['id']}/reviews")).json()["total"] == 1
