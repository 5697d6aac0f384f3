"""POST /authors/{id}/books/bulk: all the books or none, and a failure that says which and why.

The failing cases write some books before one fails, so passing them proves that the app's
own ``session.rollback()`` undoes exactly its request's writes, inside the harness's
savepoint, on every backend.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from app_under_test.models import Author, Book, BookFormat


def item(n, **fields):
    return {
        "title": f"Volume {n}",
        "isbn": f"{9781000000000 + n}",
        "format": "paperback",
        "price": f"{n}.50",
        **fields,
    }


async def make_author(client, name="Robin Hobb"):
    response = await client.post("/authors", json={"name": name})
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def book_isbns(db_session):
    return set(await db_session.scalars(select(Book.isbn)))


async def test_creates_every_book_in_order(client, db_session):
    author_id = await make_author(client)
    items = [item(1), item(2, tags=["x"]), item(3, stock=5)]

    response = await client.post(f"/authors/{author_id}/books/bulk", json={"books": items})

    assert response.status_code == 201, response.text
    books = response.json()
    assert [b["title"] for b in books] == ["Volume 1", "Volume 2", "Volume 3"]
    assert [b["price"] for b in books] == ["1.50", "2.50", "3.50"]
    assert {b["author_id"] for b in books} == {author_id}
    assert books[1]["tags"] == ["x"]
    assert books[2]["stock"] == 5
    assert all(b["created_at"] and b["available"] is True for b in books)
    assert [b["id"] for b in books] == sorted(b["id"] for b in books)
    listed = (await client.get("/books", params={"author_id": author_id})).json()
    assert [b["id"] for b in listed["items"]] == [b["id"] for b in books]
    assert await book_isbns(db_session) == {i["isbn"] for i in items}


async def test_a_duplicate_within_the_request_keeps_none_and_names_the_item(client, db_session):
    author_id = await make_author(client)
    items = [item(1), item(2), item(1, title="Again")]

    response = await client.post(f"/authors/{author_id}/books/bulk", json={"books": items})

    assert response.status_code == 409
    detail = response.json()["detail"]
    assert detail["index"] == 2
    assert detail["reason"] == "ISBN 9781000000001 is also used by books[0] in this request"
    assert "books[2]" in detail["message"]
    assert await book_isbns(db_session) == set()


async def test_a_clash_with_an_existing_book_keeps_only_what_was_there(client, db_session):
    author_id = await make_author(client)
    first = await client.post(f"/authors/{author_id}/books/bulk", json={"books": [item(9)]})
    assert first.status_code == 201

    items = [item(1), item(2), item(9, title="Clash"), item(4)]
    response = await client.post(f"/authors/{author_id}/books/bulk", json={"books": items})

    assert response.status_code == 409
    assert response.json()["detail"]["index"] == 2
    assert response.json()["detail"]["reason"] == "a book with ISBN 9781000000009 already exists"
    # Volumes 1 and 2 had been written (flushed) before volume 9 failed: the rollback took
    # them; the book committed by the earlier request is untouched.
    assert await book_isbns(db_session) == {item(9)["isbn"]}
    kept = (await client.get(f"/books/{first.json()[0]['id']}")).json()
    assert kept["title"] == "Volume 9"


async def test_the_rollback_spares_what_the_test_and_earlier_requests_committed(client, db_session):
    seeded = Author(name="Seeded By The Test")
    db_session.add(seeded)
    await db_session.flush()
    db_session.add(
        Book(
            author_id=seeded.id,
            title="Seeded Book",
            isbn="9782000000000",
            format=BookFormat.EBOOK,
            price=Decimal("1.00"),
            tags=[],
        )
    )
    await db_session.commit()
    author_id = await make_author(client, "Committed By The API")

    items = [item(1), item(2), {**item(3), "isbn": "9782000000000"}]
    response = await client.post(f"/authors/{author_id}/books/bulk", json={"books": items})

    assert response.status_code == 409
    assert response.json()["detail"]["index"] == 2
    names = set(await db_session.scalars(select(Author.name)))
    assert names == {"Seeded By The Test", "Committed By The API"}
    assert await book_isbns(db_session) == {"9782000000000"}

    # Nothing of the failed request lingers: the same books can be created now.
    retry = await client.post(f"/authors/{author_id}/books/bulk", json={"books": items[:2]})
    assert retry.status_code == 201, retry.text
    assert await db_session.scalar(select(func.count()).select_from(Book)) == 3


async def test_an_invalid_item_is_a_422_naming_it_and_writes_nothing(client, db_session):
    author_id = await make_author(client)
    items = [item(1), item(2), item(3, price="NaN")]

    response = await client.post(f"/authors/{author_id}/books/bulk", json={"books": items})

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "books", 2, "price"]
    assert await book_isbns(db_session) == set()


async def test_a_missing_author_is_404(client, db_session):
    response = await client.post("/authors/4040/books/bulk", json={"books": [item(1)]})

    assert response.status_code == 404
    assert response.json() == {"detail": "author 4040 not found"}
    assert await book_isbns(db_session) == set()


async def test_the_batch_size_is_bounded(client):
    author_id = await make_author(client)
    url = f"/authors/{author_id}/books/bulk"

    assert (await client.post(url, json={"books": []})).status_code == 422
    too_many = [item(n) for n in range(101)]
    assert (await client.post(url, json={"books": too_many})).status_code == 422
    assert (await client.post(url, json=[item(1)])).status_code == 422
    just_enough = [item(n) for n in range(100)]
    assert (await client.post(url, json={"books": just_enough})).status_code == 201
