"""/authors: CRUD, pagination, search, and the cascade when an author is deleted."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from app_under_test.models import Author, Book, Review


async def make_author(client, name="Ursula K. Le Guin", **fields):
    response = await client.post("/authors", json={"name": name, **fields})
    assert response.status_code == 201, response.text
    return response.json()


def parse_time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


async def test_create_returns_the_author_with_server_set_utc_times(client, db_session):
    before = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    response = await client.post("/authors", json={"name": "  Octavia Butler ", "bio": "SF"})

    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "Octavia Butler"  # surrounding whitespace is stripped
    assert body["bio"] == "SF"
    created = parse_time(body["created_at"])
    assert created.utcoffset() == dt.timedelta(0)
    # The server clock is this machine's: the default is "now", in UTC, not local time.
    assert before - dt.timedelta(seconds=5) <= created <= before + dt.timedelta(minutes=1)
    assert parse_time(body["updated_at"]) == created
    row = await db_session.get(Author, body["id"])
    assert row is not None
    assert row.name == "Octavia Butler"
    assert row.name_key == "octavia butler"


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"name": ""},
        {"name": "   "},
        {"name": "x" * 201},
        {"name": "nul\x00byte"},
        {"name": 42},
        {"name": None},
        {"name": "ok", "bio": "x" * 10_001},
        {"name": "ok", "unknown": 1},
        [{"name": "a list, not an object"}],
    ],
)
async def test_create_rejects_invalid_input_with_422(client, db_session, payload):
    response = await client.post("/authors", json=payload)

    assert response.status_code == 422, response.text
    assert await db_session.scalar(select(func.count()).select_from(Author)) == 0


async def test_create_accepts_the_longest_names_the_column_holds(client):
    name = "é" * 200  # 200 characters, 400 bytes: the limit counts characters everywhere
    author = await make_author(client, name=name)

    assert (await client.get(f"/authors/{author['id']}")).json()["name"] == name


async def test_read(client):
    author = await make_author(client)

    response = await client.get(f"/authors/{author['id']}")

    assert response.status_code == 200
    assert response.json() == author


async def test_read_missing_is_404(client):
    response = await client.get("/authors/999")

    assert response.status_code == 404
    assert response.json() == {"detail": "author 999 not found"}


@pytest.mark.parametrize(
    "author_id", ["0", "-1", "abc", "1.5", str(2**31), str(2**63), str(2**64 + 1)]
)
async def test_read_with_an_impossible_id_is_422(client, author_id):
    response = await client.get(f"/authors/{author_id}")

    assert response.status_code == 422


async def test_list_pages_are_stable_and_carry_the_total(client):
    ids = [(await make_author(client, name=f"Author {n}"))["id"] for n in range(7)]

    pages = []
    for offset in (0, 3, 6):
        response = await client.get("/authors", params={"limit": 3, "offset": offset})
        assert response.status_code == 200
        page = response.json()
        assert (page["total"], page["limit"], page["offset"]) == (7, 3, offset)
        pages.append([a["id"] for a in page["items"]])

    assert pages == [ids[0:3], ids[3:6], ids[6:7]]
    beyond = (await client.get("/authors", params={"offset": 50})).json()
    assert beyond["items"] == []
    assert beyond["total"] == 7


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 101},
        {"limit": "ten"},
        {"offset": -1},
        {"offset": 2**31},
        {"offset": 2**64},
        {"q": ""},
        {"q": "   "},
        {"q": "x" * 201},
        {"q": "a\x00"},
    ],
)
async def test_list_rejects_bad_parameters_with_422(client, params):
    response = await client.get("/authors", params=params)

    assert response.status_code == 422


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("le guin", ["Ursula K. Le Guin"]),
        ("LE GUIN", ["Ursula K. Le Guin"]),
        ("ÉMILE", ["Émile Zola"]),
        ("émile", ["Émile Zola"]),
        # Accents are not folded: on MySQL's default collation 'e' would match 'é'.
        ("emile", []),
        ("zola", ["Émile Zola"]),
        # Unicode case folding, not ASCII lower(): ß folds to ss.
        ("STRASSE", ["Anna Straße"]),
        ("straße", ["Anna Straße"]),
        # LIKE wildcards are literal characters.
        ("100%", ["100% Wolf"]),
        ("_", ["Under_score"]),
        ("%", ["100% Wolf"]),
        # Inner spaces count (the term's outer whitespace is stripped, as names' are).
        ("k.  le", []),
        ("nobody", []),
    ],
)
async def test_search_is_a_caseless_substring_match_the_same_on_every_backend(client, q, expected):
    for name in ["Ursula K. Le Guin", "Émile Zola", "Anna Straße", "100% Wolf", "Under_score"]:
        await make_author(client, name=name)

    response = await client.get("/authors", params={"q": q})

    assert response.status_code == 200
    page = response.json()
    assert [a["name"] for a in page["items"]] == expected
    assert page["total"] == len(expected)


async def test_update_changes_only_the_fields_sent(client):
    author = await make_author(client, bio="old bio")

    response = await client.patch(f"/authors/{author['id']}", json={"bio": "new bio"})

    assert response.status_code == 200
    updated = response.json()
    assert updated["bio"] == "new bio"
    assert updated["name"] == author["name"]
    assert parse_time(updated["updated_at"]) >= parse_time(author["updated_at"])
    assert updated["created_at"] == author["created_at"]


async def test_update_of_the_name_is_searchable(client):
    author = await make_author(client, name="Old Name")

    await client.patch(f"/authors/{author['id']}", json={"name": "Brand New"})

    assert (await client.get("/authors", params={"q": "old"})).json()["total"] == 0
    assert (await client.get("/authors", params={"q": "NEW"})).json()["total"] == 1


async def test_update_may_clear_a_nullable_field(client):
    author = await make_author(client, bio="a bio")

    response = await client.patch(f"/authors/{author['id']}", json={"bio": None})

    assert response.status_code == 200
    assert response.json()["bio"] is None


@pytest.mark.parametrize(
    "payload",
    [{"name": None}, {"name": ""}, {"name": "x" * 201}, {"id": 5}, {"created_at": "2020-01-01"}],
)
async def test_update_rejects_invalid_input_with_422(client, payload):
    author = await make_author(client)

    response = await client.patch(f"/authors/{author['id']}", json=payload)

    assert response.status_code == 422
    assert (await client.get(f"/authors/{author['id']}")).json() == author


async def test_update_missing_is_404(client):
    response = await client.patch("/authors/999", json={"bio": "x"})

    assert response.status_code == 404


async def test_delete(client):
    author = await make_author(client)

    response = await client.delete(f"/authors/{author['id']}")

    assert response.status_code == 204
    assert response.content == b""
    assert (await client.get(f"/authors/{author['id']}")).status_code == 404


async def test_delete_missing_is_404(client):
    response = await client.delete("/authors/999")

    assert response.status_code == 404


async def test_delete_cascades_to_books_and_their_reviews(client, db_session):
    author = await make_author(client)
    other = await make_author(client, name="Someone Else")
    book_ids = []
    for n, owner in enumerate([author, author, other]):
        response = await client.post(
            "/books",
            json={
                "author_id": owner["id"],
                "title": f"Book {n}",
                "isbn": f"978000000000{n}",
                "format": "paperback",
                "price": "10.00",
            },
        )
        assert response.status_code == 201, response.text
        book_ids.append(response.json()["id"])
        review = await client.post(
            f"/books/{book_ids[-1]}/reviews", json={"reviewer": "r", "rating": 4}
        )
        assert review.status_code == 201, review.text

    assert (await client.delete(f"/authors/{author['id']}")).status_code == 204

    # ON DELETE CASCADE in the database (on SQLite too: foreign keys are switched on).
    assert await db_session.scalar(select(func.count()).select_from(Book)) == 1
    assert await db_session.scalar(select(func.count()).select_from(Review)) == 1
    for book_id in book_ids[:2]:
        assert (await client.get(f"/books/{book_id}")).status_code == 404
    assert (await client.get(f"/books/{book_ids[2]}")).status_code == 200
    assert (await client.get(f"/books/{book_ids[2]}/reviews")).json()["total"] == 1


async def test_why_search_uses_the_folded_key_and_not_the_name_column(
    client, db_session, db_backend
):
    author = await make_author(client, name="Émile Zola")

    by_name = select(Author.id).where(Author.name == "emile zola  ")
    by_key = select(Author.id).where(Author.name_key == "emile zola  ")

    # MySQL/MariaDB's utf8mb4_unicode_ci ignores case, accents and trailing spaces in
    # comparisons; the key column is utf8mb4_bin there, exact as on the other backends.
    expected = [author["id"]] if db_backend.name == "mysql" else []
    assert list(await db_session.scalars(by_name)) == expected
    assert list(await db_session.scalars(by_key)) == []
