"""Strategies from models and schemas: what they draw, without a database."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st
from sqlalchemy import (
    CheckConstraint,
    Column,
    Integer,
    MetaData,
    Table,
)

from app_under_test.models import Author, Book, BookFormat, Review
from app_under_test.schemas import AuthorCreate, BookBulkCreate, BookCreate, BookUpdate
from harness.hypothesis.checks import read_check, table_checks
from harness.strategies import (
    StrategyError,
    for_column,
    instances,
    payloads,
    row_lists,
    rows,
    text,
    unique_keys,
)
from tests.hypothesis.probe import Colour, probe

odd_metadata = MetaData()
SHRUNK = {"code", "note", "big", "level", "score", "amount"}
odd = Table(
    "odd",
    odd_metadata,
    Column("id", Integer, primary_key=True),
    Column("a", Integer, nullable=False),
    Column("b", Integer, nullable=False),
    CheckConstraint("a < b", name="a_before_b"),
)


@given(text(max_size=30))
def test_text_is_storable_everywhere(value: str) -> None:
    assert "\x00" not in value
    assert not any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    assert len(value) <= 30
    value.encode("utf-8")


@given(rows(probe))
def test_probe_rows_honour_types_lengths_and_checks(row: dict[str, Any]) -> None:
    assert "id" not in row  # the autoincrement key is the database's
    assert 2 <= len(row["code"]) <= 5
    assert -(2**15) <= row["small"] < 2**15
    assert row["big"] is None or -(2**63) <= row["big"] < 2**63
    amount = row["amount"]
    assert isinstance(amount, Decimal)
    assert abs(amount) <= Decimal("999.99")
    assert amount == amount.quantize(Decimal("0.01"))
    assert isinstance(row["flag"], bool)
    assert isinstance(row["colour"], Colour)
    moment = row["moment"]
    assert moment is None or (moment.tzinfo is None and moment.microsecond == 0)
    assert row["moment_tz"] is None or row["moment_tz"].utcoffset() == dt.timedelta(0)
    assert row["clock"] is None or row["clock"].microsecond == 0
    assert row["blob"] is None or len(row["blob"]) <= 8
    assert row["parent_id"] is None  # a nullable foreign key without references
    assert 3 <= row["level"] <= 7
    assert row["score"] in (-1, 0, 1)
    if row["ratio"] is not None:  # FLOAT comes back with 6 significant digits from MySQL
        assert float(f"{row['ratio']:.6g}") == row["ratio"]


def test_nullable_columns_shrink_to_none_and_text_to_zeros() -> None:
    few = rows(probe, exclude=[c.name for c in probe.columns if c.name not in SHRUNK])
    smallest = find(few, lambda row: len(row["code"]) >= 3)
    assert smallest["code"] == "000"
    assert smallest["note"] is None
    assert smallest["big"] is None
    assert smallest["level"] == 3
    assert smallest["score"] == 0
    assert smallest["amount"] == 0


@settings(max_examples=5)
@given(
    row=rows(Book, references={"author_id": [7]}, exclude={"title_key"}),
    with_defaults=rows(Book, references={"author_id": [7]}, exclude={"title_key"}, defaults=True),
)
def test_model_rows_use_attribute_keys_and_leave_out_defaults(
    row: dict[str, Any], with_defaults: dict[str, Any]
) -> None:
    assert set(row) == {
        "author_id",
        "title",
        "isbn",
        "format",
        "price",
        "published_year",
        "tags",
        "description",
    }
    assert row["author_id"] == 7
    assert {"available", "stock", "created_at", "updated_at"} <= set(with_defaults)


@given(rows(Book, references={"author_id": [1, 2]}, exclude={"title_key"}, defaults=True))
def test_book_checks_are_read(row: dict[str, Any]) -> None:
    assert row["price"] >= 0
    assert row["stock"] >= 0
    assert isinstance(row["format"], BookFormat)
    assert len(row["isbn"]) <= 13


@given(rows(Review, references={"book_id": st.just(3)}))
def test_review_rating_follows_its_between_check(row: dict[str, Any]) -> None:
    assert 1 <= row["rating"] <= 5
    assert row["book_id"] == 3


def test_a_required_foreign_key_needs_references() -> None:
    with pytest.raises(StrategyError, match=r"books\.author_id references authors\.id"):
        rows(Book)
    with pytest.raises(StrategyError, match="no rows to reference"):
        rows(Book, references={"author_id": []}, exclude={"title_key"})


def test_an_unreadable_check_is_an_error_that_names_it() -> None:
    with pytest.raises(StrategyError, match=r"a_before_b: CHECK \(a < b\).*overrides.*a, b"):
        rows(odd)
    row = find(rows(odd, overrides={"a": 1, "b": st.integers(2, 5)}), lambda r: True)
    assert row == {"a": 1, "b": 2}


def test_unknown_keys_are_refused() -> None:
    with pytest.raises(StrategyError, match="no column"):
        rows(Author, overrides={"nope": 1})


def test_instances_build_model_objects() -> None:
    author = find(instances(Author, exclude={"name_key"}), lambda a: len(a.name) > 1)
    assert isinstance(author, Author)
    assert author.name == "00"
    assert author.name_key == "00"  # the model's validator ran


@given(row_lists(Book, references={"author_id": [1]}, exclude={"title_key"}, max_size=8))
def test_row_lists_keep_unique_columns_distinct(books: list[dict[str, Any]]) -> None:
    isbns = [book["isbn"] for book in books]
    assert len(isbns) == len(set(isbns))


def test_unique_keys() -> None:
    assert unique_keys(Book) == [("isbn",)]
    assert unique_keys(probe) == [("code",)]
    assert unique_keys(Author) == []


def test_for_column_takes_a_model_attribute() -> None:
    assert find(for_column(Review.rating), lambda r: r > 4) == 5
    with pytest.raises(StrategyError, match="not a table column"):
        for_column("rating")


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("rating BETWEEN 1 AND 5", {"rating": (1, 5)}),
        ("price >= 0", {"price": (0, None)}),
        ("(level >= 1) AND (level <= 10)", {"level": (1, 10)}),
        ('0 <= "level" and t."level" < 4', {"level": (0, 4)}),
        ("`level` <= 9 AND `level` >= -3.5", {"level": (Decimal("-3.5"), 9)}),
    ],
)
def test_read_check_bounds(sql: str, expected: dict[str, tuple[Any, Any]]) -> None:
    read = read_check(sql, ["rating", "price", "level"])
    assert read is not None
    assert {name: (b.low, b.high) for name, b in read.items()} == expected


def test_read_check_lists_lengths_and_refusals() -> None:
    read = read_check("kind IN ('a', 'b''c') AND length(kind) <= 3 AND kind <> ''", ["kind"])
    assert read is not None
    assert read["kind"].choices == ("a", "b'c")
    assert (read["kind"].min_length, read["kind"].max_length) == (1, 3)
    for unreadable in ("a >= 0 OR a <= 3", "a + 1 > 3", "a < b", "lower(a) = a", "z > 1"):
        assert read_check(unreadable, ["a", "b"]) is None, unreadable


def test_type_bound_checks_are_left_to_the_type() -> None:
    checks = table_checks(Book.__table__)
    assert not checks.unreadable  # the enum's own IN (...) CHECK is not reported
    assert set(checks.bounds) == {"price", "stock"}


# --- Pydantic schemas ---------------------------------------------------------------------------


@given(payloads(BookCreate))
def test_book_payloads_are_valid_json_bodies(body: dict[str, Any]) -> None:
    import json

    json.dumps(body)  # JSON-ready
    book = BookCreate.model_validate(body)
    assert len(book.isbn) == 13
    assert book.isbn.isascii()
    assert book.isbn.isdigit()
    assert 1 <= len(book.title) <= 200
    assert isinstance(body["price"], str)  # a Decimal travels as a string
    assert Decimal(body["price"]) == book.price
    assert 1 <= body["author_id"] <= 2**31 - 1


@given(payloads(BookUpdate))
def test_partial_updates_leave_fields_out(body: dict[str, Any]) -> None:
    BookUpdate.model_validate(body)


@settings(max_examples=10)
@given(payloads(BookBulkCreate))
def test_nested_lists_of_models(body: dict[str, Any]) -> None:
    assert 1 <= len(body["books"]) <= 100
    BookBulkCreate.model_validate(body)


def test_payload_overrides_and_shrinking() -> None:
    # Optional fields shrink to left out; an override only says what a field holds if sent.
    body = find(payloads(AuthorCreate, overrides={"bio": "x"}), lambda b: len(b["name"]) > 2)
    assert body == {"name": "000"}
    body = find(payloads(AuthorCreate, overrides={"bio": "x"}), lambda b: "bio" in b)
    assert body == {"name": "0", "bio": "x"}
    with pytest.raises(StrategyError, match="no field"):
        payloads(AuthorCreate, overrides={"nope": 1})


@settings(max_examples=20)
@given(payloads(BookCreate, overrides={"author_id": st.sampled_from([3, 4])}))
def test_payload_override_with_a_strategy(body: dict[str, Any]) -> None:
    assert body["author_id"] in (3, 4)
