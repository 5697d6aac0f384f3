"""The reference app as a state machine: every step through the API, checked against a model.

``LibraryMachine`` creates, reads, updates, deletes, lists, searches and bulk-creates authors,
books and reviews through the ``client`` fixture, and keeps an in-memory model of what the
API promises. Every response is compared with the model, and after every step the rows in
the database are counted against it. Each run starts from an empty database
(``per_example``); the same machine runs on every selected backend.

What the model promises where backends could differ:

* text is stored as sent after Pydantic strips short fields: case, accents, trailing
  characters and characters beyond the BMP all survive on every backend;
* ``?q=`` matches ``fold(term)`` as a substring of ``fold(name)`` (the app's documented
  folding), on every backend;
* an id is never handed out twice in a run, except that SQLite hands out the id of the last
  row again once it is deleted (:func:`test_sqlite_hands_out_a_deleted_last_id_again` pins
  it); so the model never predicts an id, and only checks that a new id is not one in use;
* prices come back with two decimals, the same everywhere;
* timestamps are UTC, ``created_at <= updated_at``, and an update never moves them back.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any

import httpx
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.stateful import invariant, precondition, rule
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app_under_test.models import Author, Book, Review
from app_under_test.schemas import (
    AuthorCreate,
    AuthorUpdate,
    BookFields,
    BookUpdate,
    ReviewCreate,
    ReviewUpdate,
    SearchTerm,
)
from app_under_test.search import fold
from harness.hypothesis import AsyncStateMachine, per_example, run_state_machine
from harness.run.state import BackendInfo
from harness.strategies import payloads, text

MISSING_ID = 2**31 - 1  # valid in a path, never reached by a run
#: The API strips a search term as Pydantic does (Unicode White_Space), not as str.strip()
SEARCH_TERM: TypeAdapter[str] = TypeAdapter(SearchTerm)


def SEARCH_TERM_OR_NONE(term: str) -> str | None:
    try:
        return SEARCH_TERM.validate_python(term)
    except ValidationError:
        return None


COUNTS = select(
    select(func.count()).select_from(Author).scalar_subquery(),
    select(func.count()).select_from(Book).scalar_subquery(),
    select(func.count()).select_from(Review).scalar_subquery(),
)


@dataclasses.dataclass
class AuthorM:
    id: int
    name: str
    bio: str | None
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclasses.dataclass
class BookM:
    id: int
    author_id: int
    title: str
    isbn: str
    format: str
    price: Decimal
    published_year: int | None
    available: bool
    tags: list[str]
    description: str | None
    stock: int
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclasses.dataclass
class ReviewM:
    id: int
    book_id: int
    reviewer: str
    rating: int
    body: str | None
    created_at: dt.datetime
    updated_at: dt.datetime


def _time(value: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(value)
    assert parsed.utcoffset() == dt.timedelta(0), f"{value} is not UTC"
    return parsed


def _check_times(
    body: dict[str, Any], before: AuthorM | BookM | ReviewM | None = None
) -> tuple[dt.datetime, dt.datetime]:
    created, updated = _time(body["created_at"]), _time(body["updated_at"])
    assert created <= updated
    if before is not None:
        assert created == before.created_at
        assert updated >= before.updated_at
    return created, updated


def _book_fields(fields: BookFields) -> dict[str, Any]:
    values = fields.model_dump()
    values["format"] = fields.format.value
    return values


def _json_book(book: BookM) -> dict[str, Any]:
    return {
        "id": book.id,
        "author_id": book.author_id,
        "title": book.title,
        "isbn": book.isbn,
        "format": book.format,
        "price": book.price,
        "published_year": book.published_year,
        "available": book.available,
        "tags": book.tags,
        "description": book.description,
        "stock": book.stock,
    }


def _seen_book(body: dict[str, Any]) -> dict[str, Any]:
    shown = {key: body[key] for key in _json_book_keys()}
    shown["price"] = Decimal(body["price"])
    return shown


def _json_book_keys() -> tuple[str, ...]:
    return (
        "id",
        "author_id",
        "title",
        "isbn",
        "format",
        "price",
        "published_year",
        "available",
        "tags",
        "description",
        "stock",
    )


#: ISBNs as people type them: the 13 digits with hyphens or spaces in between, or not.
def isbns() -> st.SearchStrategy[str]:
    digits = st.text("0123456789", min_size=13, max_size=13)
    return st.one_of(
        digits,
        st.tuples(digits, st.integers(1, 12), st.sampled_from("- ")).map(
            lambda t: t[0][: t[1]] + t[2] + t[0][t[1] :]
        ),
    )


def book_bodies() -> st.SearchStrategy[dict[str, Any]]:
    return payloads(BookFields, overrides={"isbn": isbns()})


class LibraryMachine(AsyncStateMachine):
    """The library API, step by step, against a model of authors, books and reviews."""

    def __init__(
        self, client: httpx.AsyncClient, connection: AsyncConnection, backend: str
    ) -> None:
        super().__init__()
        self.client = client
        self.connection = connection
        self.backend = backend
        self.authors: dict[int, AuthorM] = {}
        self.books: dict[int, BookM] = {}
        self.reviews: dict[int, ReviewM] = {}
        #: every id the API has handed out in this run, per resource
        self.issued: dict[str, set[int]] = {"authors": set(), "books": set(), "reviews": set()}

    # --- plumbing ------------------------------------------------------------------------

    def call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self.wait(self.client.request(method, url, **kwargs))

    def new_id(self, kind: str, body: dict[str, Any], live: dict[int, Any]) -> int:
        new = int(body["id"])
        assert new not in live, f"{kind} id {new} handed out while still in use"
        if new in self.issued[kind]:
            # Promised only where the backend keeps ids for good (pinned for SQLite below).
            assert self.backend == "sqlite", f"{kind} id {new} handed out twice"
            assert new > max((i for i in live), default=0), "only the last id comes back"
        self.issued[kind].add(new)
        return new

    def pick(self, data: st.DataObject, ids: dict[int, Any], label: str) -> int:
        if ids:
            return data.draw(st.sampled_from(sorted(ids)) | st.just(MISSING_ID), label=label)
        return MISSING_ID

    def check_author(self, body: dict[str, Any], author: AuthorM) -> None:
        assert {k: body[k] for k in ("id", "name", "bio")} == {
            "id": author.id,
            "name": author.name,
            "bio": author.bio,
        }

    def check_book(self, body: dict[str, Any], book: BookM) -> None:
        assert _seen_book(body) == _json_book(book)

    def isbn_owner(self, isbn: str) -> int | None:
        return next((b.id for b in self.books.values() if b.isbn == isbn), None)

    # --- authors -------------------------------------------------------------------------

    @rule(body=payloads(AuthorCreate))
    def create_author(self, body: dict[str, Any]) -> None:
        expected = AuthorCreate.model_validate(body)
        response = self.call("POST", "/authors", json=body)
        assert response.status_code == 201, response.text
        got = response.json()
        created, updated = _check_times(got)
        author = AuthorM(
            self.new_id("authors", got, self.authors), expected.name, expected.bio, created, updated
        )
        self.check_author(got, author)
        self.authors[author.id] = author

    @rule(data=st.data())
    def read_author(self, data: st.DataObject) -> None:
        author_id = self.pick(data, self.authors, "author_id")
        response = self.call("GET", f"/authors/{author_id}")
        if author_id not in self.authors:
            assert response.status_code == 404, response.text
            return
        assert response.status_code == 200, response.text
        self.check_author(response.json(), self.authors[author_id])
        _check_times(response.json(), self.authors[author_id])

    @rule(data=st.data(), body=payloads(AuthorUpdate))
    def update_author(self, data: st.DataObject, body: dict[str, Any]) -> None:
        author_id = self.pick(data, self.authors, "author_id")
        response = self.call("PATCH", f"/authors/{author_id}", json=body)
        if author_id not in self.authors:
            assert response.status_code == 404, response.text
            return
        assert response.status_code == 200, response.text
        author = self.authors[author_id]
        changes = AuthorUpdate.model_validate(body).changes()
        got = response.json()
        author.created_at, author.updated_at = _check_times(got, author)
        for key, value in changes.items():
            setattr(author, key, value)
        self.check_author(got, author)

    @rule(data=st.data())
    def delete_author(self, data: st.DataObject) -> None:
        author_id = self.pick(data, self.authors, "author_id")
        response = self.call("DELETE", f"/authors/{author_id}")
        if author_id not in self.authors:
            assert response.status_code == 404, response.text
            return
        assert response.status_code == 204, response.text
        del self.authors[author_id]
        # ON DELETE CASCADE: their books, and those books' reviews.
        for book_id in [b.id for b in self.books.values() if b.author_id == author_id]:
            self.forget_book(book_id)

    @rule(limit=st.integers(1, 5), offset=st.integers(0, 6))
    def list_authors(self, limit: int, offset: int) -> None:
        response = self.call("GET", "/authors", params={"limit": limit, "offset": offset})
        assert response.status_code == 200, response.text
        page = response.json()
        assert page["total"] == len(self.authors)
        expected = [self.authors[i] for i in sorted(self.authors)][offset : offset + limit]
        assert [a["id"] for a in page["items"]] == [a.id for a in expected]
        for body, author in zip(page["items"], expected, strict=True):
            self.check_author(body, author)

    @rule(data=st.data())
    def search_authors(self, data: st.DataObject) -> None:
        term = self.search_term(data, [a.name for a in self.authors.values()])
        if term is None:
            return
        response = self.call("GET", "/authors", params={"q": term, "limit": 100})
        assert response.status_code == 200, response.text
        key = fold(SEARCH_TERM.validate_python(term))
        expected = sorted(i for i, a in self.authors.items() if key in fold(a.name))
        assert [a["id"] for a in response.json()["items"]] == expected, (term, key)

    def search_term(self, data: st.DataObject, names: list[str]) -> str | None:
        """A piece of an existing name, its case changed, or any text; None if not valid."""
        if names:
            name = data.draw(st.sampled_from(names), label="name searched")
            start = data.draw(st.integers(0, len(name) - 1), label="start")
            end = data.draw(st.integers(start + 1, len(name)), label="end")
            piece = name[start:end]
            change = data.draw(
                st.sampled_from([str, str.upper, str.lower, str.swapcase]), label="case"
            )
            term = data.draw(st.just(change(piece)) | text(max_size=5), label="term")
        else:
            term = data.draw(text(max_size=5), label="term")
        try:
            SEARCH_TERM.validate_python(term)
        except ValidationError:
            return None
        return term

    # --- books ---------------------------------------------------------------------------

    def forget_book(self, book_id: int) -> None:
        del self.books[book_id]
        for review_id in [r.id for r in self.reviews.values() if r.book_id == book_id]:
            del self.reviews[review_id]

    @rule(data=st.data(), body=book_bodies())
    def create_book(self, data: st.DataObject, body: dict[str, Any]) -> None:
        author_id = self.pick(data, self.authors, "author_id")
        if self.books and data.draw(st.booleans(), label="reuse an ISBN"):
            body["isbn"] = data.draw(st.sampled_from([b.isbn for b in self.books.values()]))
        fields = BookFields.model_validate(body)
        response = self.call("POST", "/books", json={**body, "author_id": author_id})
        if author_id not in self.authors:
            assert response.status_code == 409, response.text
            assert response.json()["detail"] == f"author {author_id} does not exist"
            return
        if self.isbn_owner(fields.isbn) is not None:
            assert response.status_code == 409, response.text
            assert response.json()["detail"] == f"a book with ISBN {fields.isbn} already exists"
            return
        assert response.status_code == 201, response.text
        got = response.json()
        created, updated = _check_times(got)
        book = BookM(
            id=self.new_id("books", got, self.books),
            author_id=author_id,
            created_at=created,
            updated_at=updated,
            **_book_fields(fields),
        )
        self.check_book(got, book)
        self.books[book.id] = book

    @rule(data=st.data())
    def read_book(self, data: st.DataObject) -> None:
        book_id = self.pick(data, self.books, "book_id")
        response = self.call("GET", f"/books/{book_id}")
        if book_id not in self.books:
            assert response.status_code == 404, response.text
            return
        assert response.status_code == 200, response.text
        self.check_book(response.json(), self.books[book_id])
        _check_times(response.json(), self.books[book_id])

    @rule(data=st.data(), body=payloads(BookUpdate, overrides={"isbn": isbns()}))
    def update_book(self, data: st.DataObject, body: dict[str, Any]) -> None:
        book_id = self.pick(data, self.books, "book_id")
        if self.books and data.draw(st.booleans(), label="move or collide"):
            body["isbn"] = data.draw(st.sampled_from([b.isbn for b in self.books.values()]))
            body["author_id"] = self.pick(data, self.authors, "new author_id")
        changes = BookUpdate.model_validate(body).changes()
        response = self.call("PATCH", f"/books/{book_id}", json=body)
        if book_id not in self.books:
            assert response.status_code == 404, response.text
            return
        new_author = changes.get("author_id")
        if new_author is not None and new_author not in self.authors:
            assert response.status_code == 409, response.text
            assert response.json()["detail"] == f"author {new_author} does not exist"
            return
        owner = self.isbn_owner(changes["isbn"]) if "isbn" in changes else None
        if owner is not None and owner != book_id:
            assert response.status_code == 409, response.text
            detail = f"a book with ISBN {changes['isbn']} already exists"
            assert response.json()["detail"] == detail
            return
        assert response.status_code == 200, response.text
        book = self.books[book_id]
        got = response.json()
        book.created_at, book.updated_at = _check_times(got, book)
        for key, value in changes.items():
            setattr(book, key, value.value if key == "format" else value)
        self.check_book(got, book)

    @rule(data=st.data())
    def delete_book(self, data: st.DataObject) -> None:
        book_id = self.pick(data, self.books, "book_id")
        response = self.call("DELETE", f"/books/{book_id}")
        if book_id not in self.books:
            assert response.status_code == 404, response.text
            return
        assert response.status_code == 204, response.text
        self.forget_book(book_id)

    @rule(data=st.data())
    def list_books(self, data: st.DataObject) -> None:
        params: dict[str, Any] = {}
        books = list(self.books.values())
        prices = sorted({b.price for b in books}) or [Decimal("0.00")]
        optional = {
            "author_id": st.sampled_from(sorted(self.authors) or [MISSING_ID]),
            "format": st.sampled_from(["hardcover", "paperback", "ebook", "audiobook"]),
            "available": st.booleans(),
            "in_stock": st.booleans(),
            "min_price": st.sampled_from(prices),
            "max_price": st.sampled_from(prices),
            "published_year": st.sampled_from(
                sorted({b.published_year for b in books if b.published_year}) or [2000]
            ),
        }
        for name, values in optional.items():
            if data.draw(st.integers(0, 3), label=f"use {name}") == 0:
                params[name] = data.draw(values, label=name)
        titles = [b.title for b in books]
        if data.draw(st.integers(0, 3), label="search") == 0:
            term = self.search_term(data, titles)
            if term is not None:
                params["q"] = term
        sort = data.draw(st.sampled_from(["id", "-id", "price", "-price"]), label="sort")
        limit = data.draw(st.integers(1, 6), label="limit")
        offset = data.draw(st.integers(0, 4), label="offset")
        query = {**params, "sort": sort, "limit": limit, "offset": offset}
        sent = {k: (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in query.items()}
        response = self.call("GET", "/books", params=sent)
        assert response.status_code == 200, response.text
        matching = [b for b in books if self.book_matches(b, params)]
        order = {
            "id": lambda b: (b.id,),
            "-id": lambda b: (-b.id,),
            "price": lambda b: (b.price, b.id),
            "-price": lambda b: (-b.price, -b.id),
        }[sort]
        matching.sort(key=order)
        page = response.json()
        assert page["total"] == len(matching), query
        expected = matching[offset : offset + limit]
        assert [b["id"] for b in page["items"]] == [b.id for b in expected], query
        for body, book in zip(page["items"], expected, strict=True):
            self.check_book(body, book)

    @staticmethod
    def book_matches(book: BookM, params: dict[str, Any]) -> bool:
        checks = {
            "author_id": lambda v: book.author_id == v,
            "format": lambda v: book.format == v,
            "available": lambda v: book.available == v,
            "in_stock": lambda v: (book.stock > 0) == v,
            "min_price": lambda v: book.price >= v,
            "max_price": lambda v: book.price <= v,
            "published_year": lambda v: book.published_year == v,
            "q": lambda v: fold(SEARCH_TERM.validate_python(v)) in fold(book.title),
        }
        return all(checks[name](value) for name, value in params.items())

    @rule(data=st.data(), items=st.lists(book_bodies(), min_size=1, max_size=4))
    def bulk_create_books(self, data: st.DataObject, items: list[dict[str, Any]]) -> None:
        author_id = self.pick(data, self.authors, "author_id")
        existing = [b.isbn for b in self.books.values()]
        if data.draw(st.booleans(), label="make one collide"):
            index = data.draw(st.integers(0, len(items) - 1), label="colliding item")
            earlier = [BookFields.model_validate(i).isbn for i in items[:index]]
            if existing or earlier:
                items[index]["isbn"] = data.draw(st.sampled_from(existing + earlier))
        fields = [BookFields.model_validate(item) for item in items]
        response = self.call("POST", f"/authors/{author_id}/books/bulk", json={"books": items})
        if author_id not in self.authors:
            assert response.status_code == 404, response.text
            return
        seen: list[str] = []
        for index, item in enumerate(fields):
            if item.isbn in seen or self.isbn_owner(item.isbn) is not None:
                assert response.status_code == 409, response.text
                detail = response.json()["detail"]
                assert detail["index"] == index, detail
                if item.isbn in seen:
                    assert "also used by" in detail["reason"], detail
                else:
                    assert detail["reason"] == f"a book with ISBN {item.isbn} already exists"
                return  # and nothing was written: the totals invariant checks it
            seen.append(item.isbn)
        assert response.status_code == 201, response.text
        got = response.json()
        assert len(got) == len(fields)
        for body, item in zip(got, fields, strict=True):
            created, updated = _check_times(body)
            book = BookM(
                id=self.new_id("books", body, self.books),
                author_id=author_id,
                created_at=created,
                updated_at=updated,
                **_book_fields(item),
            )
            self.check_book(body, book)
            self.books[book.id] = book

    # --- reviews -------------------------------------------------------------------------

    @rule(data=st.data(), body=payloads(ReviewCreate))
    def create_review(self, data: st.DataObject, body: dict[str, Any]) -> None:
        book_id = self.pick(data, self.books, "book_id")
        response = self.call("POST", f"/books/{book_id}/reviews", json=body)
        if book_id not in self.books:
            assert response.status_code == 404, response.text
            return
        assert response.status_code == 201, response.text
        expected = ReviewCreate.model_validate(body)
        got = response.json()
        created, updated = _check_times(got)
        review = ReviewM(
            id=self.new_id("reviews", got, self.reviews),
            book_id=book_id,
            created_at=created,
            updated_at=updated,
            **expected.model_dump(),
        )
        self.check_review(got, review)
        self.reviews[review.id] = review

    def check_review(self, body: dict[str, Any], review: ReviewM) -> None:
        keys = ("id", "book_id", "reviewer", "rating", "body")
        assert {k: body[k] for k in keys} == {k: getattr(review, k) for k in keys}

    @rule(data=st.data(), body=payloads(ReviewUpdate))
    def update_review(self, data: st.DataObject, body: dict[str, Any]) -> None:
        review_id = self.pick(data, self.reviews, "review_id")
        response = self.call("PATCH", f"/reviews/{review_id}", json=body)
        if review_id not in self.reviews:
            assert response.status_code == 404, response.text
            return
        assert response.status_code == 200, response.text
        review = self.reviews[review_id]
        got = response.json()
        review.created_at, review.updated_at = _check_times(got, review)
        for key, value in ReviewUpdate.model_validate(body).changes().items():
            setattr(review, key, value)
        self.check_review(got, review)

    @rule(data=st.data())
    def read_or_delete_review(self, data: st.DataObject) -> None:
        review_id = self.pick(data, self.reviews, "review_id")
        method = data.draw(st.sampled_from(["GET", "DELETE"]), label="method")
        response = self.call(method, f"/reviews/{review_id}")
        if review_id not in self.reviews:
            assert response.status_code == 404, response.text
            return
        if method == "GET":
            assert response.status_code == 200, response.text
            self.check_review(response.json(), self.reviews[review_id])
        else:
            assert response.status_code == 204, response.text
            del self.reviews[review_id]

    @rule(data=st.data(), min_rating=st.none() | st.integers(1, 5), limit=st.integers(1, 4))
    def list_reviews(self, data: st.DataObject, min_rating: int | None, limit: int) -> None:
        book_id = self.pick(data, self.books, "book_id")
        params: dict[str, Any] = {"limit": limit}
        if min_rating is not None:
            params["min_rating"] = min_rating
        response = self.call("GET", f"/books/{book_id}/reviews", params=params)
        if book_id not in self.books:
            assert response.status_code == 404, response.text
            return
        assert response.status_code == 200, response.text
        matching = sorted(
            (
                r
                for r in self.reviews.values()
                if r.book_id == book_id and (min_rating is None or r.rating >= min_rating)
            ),
            key=lambda r: r.id,
        )
        page = response.json()
        assert page["total"] == len(matching)
        assert [r["id"] for r in page["items"]] == [r.id for r in matching[:limit]]

    # --- after every step ----------------------------------------------------------------

    @invariant()
    def rows_match(self) -> None:
        """What the database holds, counted on the test's connection in one round trip.

        Catches what no response shows: a write the app rolled back only partly (bulk), a
        cascade that did not happen, a row left by an earlier run.
        """
        counts = self.wait(self.connection.execute(COUNTS)).one()
        assert tuple(counts) == (len(self.authors), len(self.books), len(self.reviews))

    @precondition(lambda self: bool(self.books))
    @rule()
    def everything_matches(self) -> None:
        """Every book (and so every ISBN) as the API lists them, page by page."""
        listed: list[dict[str, Any]] = []
        while True:
            page = self.call("GET", "/books", params={"limit": 100, "offset": len(listed)})
            items = page.json()["items"]
            listed.extend(items)
            if len(items) < 100:
                break
        assert [b["id"] for b in listed] == sorted(self.books)
        for body in listed:
            self.check_book(body, self.books[body["id"]])


async def test_the_api_behaves_like_its_model(
    client: httpx.AsyncClient,
    db_connection: AsyncConnection,
    db_session: AsyncSession,
    db_backend: BackendInfo,
) -> None:
    await run_state_machine(
        LibraryMachine,
        client,
        db_connection,
        db_backend.name,
        isolation=per_example(db_connection, db_session),
    )


# --- pinned: what the model allows for on one backend only -----------------------------------


async def _author(client: httpx.AsyncClient, name: str) -> int:
    response = await client.post("/authors", json={"name": name})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def test_sqlite_hands_out_a_deleted_last_id_again(
    client: httpx.AsyncClient, db_backend: BackendInfo
) -> None:
    # SQLite's INTEGER PRIMARY KEY without AUTOINCREMENT is max(rowid) + 1: a client holding
    # the id of a deleted last author reaches the next new one. PostgreSQL's sequences and
    # MySQL's AUTO_INCREMENT never hand an id out twice.
    await _author(client, "first")
    last = await _author(client, "last")
    assert (await client.delete(f"/authors/{last}")).status_code == 204
    again = await _author(client, "next")
    assert (again == last) == (db_backend.name == "sqlite")


# --- search, where backends' LIKE differ the most ------------------------------------------

#: Characters LIKE, SQL quoting or case folding treat specially, and plain ones.
TRICKY = "%_/\\'\"aAzZßẞİ\u0131ŉǅﬀ㎐Ωω\u0301e😀 \t"
names = st.text(st.sampled_from(TRICKY) | text(max_size=1).filter(bool), min_size=1, max_size=8)


@given(name=names, data=st.data())
async def test_search_finds_a_name_by_any_piece_of_it(
    client: httpx.AsyncClient, name: str, data: st.DataObject
) -> None:
    # Each example starts from an empty database (the harness's per-example isolation).
    assume(SEARCH_TERM_OR_NONE(name) is not None)
    created = await client.post("/authors", json={"name": name})
    assert created.status_code == 201, created.text
    stored = created.json()["name"]
    start = data.draw(st.integers(0, len(stored) - 1), label="start")
    end = data.draw(st.integers(start + 1, len(stored)), label="end")
    term = data.draw(st.sampled_from([str, str.upper, str.lower, str.swapcase]), label="case")(
        stored[start:end]
    )
    assume(SEARCH_TERM_OR_NONE(term) is not None)
    found = await client.get("/authors", params={"q": term})
    assert found.status_code == 200, found.text
    expected = fold(SEARCH_TERM.validate_python(term)) in fold(stored)
    assert (found.json()["total"] == 1) == expected, (stored, term)
