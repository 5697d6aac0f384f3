"""The database schema: authors, their books, and readers' reviews of the books."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, validates

from app_under_test.search import fold
from app_under_test.sqltypes import BINARY_TEXT, UTCDateTime, utcnow

#: Constraint and index names are chosen here, not by each backend, so that they are the same
#: everywhere and a migration can drop them by name.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

NAME_LENGTH = 200
ISBN_LENGTH = 13
REVIEWER_LENGTH = 100
FORMAT_LENGTH = 20
#: Text columns are TEXT on MySQL/MariaDB, which holds 65,535 bytes: 4 bytes a character.
TEXT_LENGTH = 10_000
PRICE_DIGITS, PRICE_SCALE = 10, 2


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Timestamped:
    """Server-set creation and last-update times, timezone-aware UTC."""

    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), server_default=utcnow())
    updated_at: Mapped[dt.datetime] = mapped_column(
        UTCDateTime(), server_default=utcnow(), onupdate=utcnow()
    )


class BookFormat(str, enum.Enum):
    HARDCOVER = "hardcover"
    PAPERBACK = "paperback"
    EBOOK = "ebook"
    AUDIOBOOK = "audiobook"


class Author(Timestamped, Base):
    __tablename__ = "authors"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    #: fold(name), kept in step by the validator below: what `?q=` searches.
    name_key: Mapped[str] = mapped_column(BINARY_TEXT)
    bio: Mapped[str | None] = mapped_column(Text)

    @validates("name")
    def _fold_name(self, key: str, value: str) -> str:
        self.name_key = fold(value)
        return value


class Book(Timestamped, Base):
    __tablename__ = "books"
    __table_args__ = (
        UniqueConstraint("isbn"),
        CheckConstraint("price >= 0", name="price_not_negative"),
        CheckConstraint("stock >= 0", name="stock_not_negative"),
        Index(None, "stock"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("authors.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(NAME_LENGTH))
    #: fold(title), kept in step by the validator below: what `?q=` searches.
    title_key: Mapped[str] = mapped_column(BINARY_TEXT)
    isbn: Mapped[str] = mapped_column(String(ISBN_LENGTH))
    format: Mapped[BookFormat] = mapped_column(
        # A VARCHAR with a CHECK on every backend, rather than PostgreSQL's and MySQL's
        # native ENUM types: one behaviour, and adding a value needs no type migration.
        Enum(
            BookFormat,
            name="book_format",
            native_enum=False,
            create_constraint=True,
            length=FORMAT_LENGTH,
            values_callable=lambda formats: [f.value for f in formats],
            validate_strings=True,
        )
    )
    price: Mapped[Decimal] = mapped_column(Numeric(PRICE_DIGITS, PRICE_SCALE))
    published_year: Mapped[int | None] = mapped_column(SmallInteger)
    available: Mapped[bool] = mapped_column(server_default=true())
    tags: Mapped[list[str]] = mapped_column(JSON)
    description: Mapped[str | None] = mapped_column(Text)
    # Added by the second migration, to a table that already has rows.
    stock: Mapped[int] = mapped_column(server_default=text("0"))

    @validates("title")
    def _fold_title(self, key: str, value: str) -> str:
        self.title_key = fold(value)
        return value


class Review(Timestamped, Base):
    __tablename__ = "reviews"
    __table_args__ = (CheckConstraint("rating BETWEEN 1 AND 5", name="rating_range"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    book_id: Mapped[int] = mapped_column(ForeignKey("books.id", ondelete="CASCADE"), index=True)
    reviewer: Mapped[str] = mapped_column(String(REVIEWER_LENGTH))
    rating: Mapped[int] = mapped_column(SmallInteger)
    body: Mapped[str | None] = mapped_column(Text)
