"""The harness's isolation promises, proven on the reference app on every backend."""

from __future__ import annotations

from sqlalchemy import func, select

from app_under_test.models import Author, Book

BOOK = {"title": "A Wizard of Earthsea", "format": "paperback", "price": "8.99"}


async def count(db_session, model) -> int:
    return (await db_session.execute(select(func.count()).select_from(model))).scalar_one()


async def test_a_commit_through_the_api_is_visible_to_the_test(client, db_session):
    response = await client.post("/authors", json={"name": "Leaked If Isolation Fails"})
    assert response.status_code == 201
    assert await count(db_session, Author) == 1


async def test_every_test_starts_from_an_empty_database(client, db_session):
    # Runs after the test above (and every other test of the module) on the same backend:
    # anything they committed would be counted here.
    assert await count(db_session, Author) == 0
    assert (await client.get("/authors")).json()["total"] == 0


async def test_an_app_rollback_keeps_what_the_test_wrote_earlier(client, db_session):
    mine = Author(name="Written By The Test")
    db_session.add(mine)
    await db_session.commit()
    author = (await client.post("/authors", json={"name": "Written By The API"})).json()

    books = [{**BOOK, "isbn": "9780553383041"}, {**BOOK, "isbn": "9780553383041"}]
    response = await client.post(f"/authors/{author['id']}/books/bulk", json={"books": books})

    assert response.status_code == 409
    assert response.json()["detail"]["index"] == 1
    # The app's rollback undid only its own request: the first book of the bulk is gone, and
    # what this test and the earlier request committed is still there.
    names = set((await db_session.execute(select(Author.name))).scalars())
    assert names == {"Written By The Test", "Written By The API"}
    isbns = set((await db_session.execute(select(Book.isbn))).scalars())
    assert "9780553383041" not in isbns


async def test_the_app_sees_what_the_test_committed(client, db_session):
    db_session.add(Author(name="Seeded Through The Session"))
    await db_session.commit()
    body = (await client.get("/authors")).json()
    assert [item["name"] for item in body["items"]] == ["Seeded Through The Session"]


async def test_db_connection_is_the_sessions_connection(db_session, db_connection, db_backend):
    assert db_session.bind is db_connection
    assert db_connection.in_transaction()
    assert db_backend.name in {"sqlite", "postgresql", "mysql"}
