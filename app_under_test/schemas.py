"""Request and response bodies (Pydantic v2): ``*Create``, ``*Update`` and ``*Public``.

Every limit here mirrors a column, so that bad input is a 422 from validation and never
reaches the database as an error (a 500) or as a value one backend truncates and another
rejects.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Generic, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from app_under_test.models import (
    ISBN_LENGTH,
    NAME_LENGTH,
    PRICE_DIGITS,
    PRICE_SCALE,
    REVIEWER_LENGTH,
    TEXT_LENGTH,
    BookFormat,
)

#: Primary and foreign keys are INTEGER: 32-bit signed on PostgreSQL and MySQL. A larger
#: number would overflow in the driver (a 500), so it is refused here.
INT32_MAX = 2**31 - 1


def _storable(value: str) -> str:
    # PostgreSQL refuses NUL in text (a DataError, so a 500). Pydantic itself refuses the
    # lone surrogates that JSON's "\ud800" escapes produce, which no driver could encode.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _isbn_digits(value: object) -> object:
    # People write ISBNs with hyphens and spaces; only the 13 digits are stored.
    return value.replace("-", "").replace(" ", "") if isinstance(value, str) else value


def _not_bool(value: object) -> object:
    # Pydantic's lax mode reads true as 1: {"author_id": true} is a mistake, not author 1.
    if isinstance(value, bool):
        raise ValueError("must be an integer, not a boolean")
    return value


Storable = AfterValidator(_storable)
NotBool = BeforeValidator(_not_bool)

Id = Annotated[int, Field(ge=1, le=INT32_MAX), NotBool]
#: Short texts lose their surrounding whitespace (on MySQL/MariaDB trailing spaces do not
#: count in comparisons, elsewhere they do: better none are stored).
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_LENGTH), Storable
]
ReviewerName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=REVIEWER_LENGTH),
    Storable,
]
Tag = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50), Storable
]
SearchTerm = Name
#: Long texts are kept as written.
LongText = Annotated[str, StringConstraints(max_length=TEXT_LENGTH), Storable]
#: ASCII digits only: Unicode has other digits that a pattern's ``\d`` would let through.
Isbn = Annotated[
    str,
    BeforeValidator(_isbn_digits),
    StringConstraints(pattern=rf"^[0-9]{{{ISBN_LENGTH}}}$"),
]


def _no_negative_zero(value: Decimal) -> Decimal:
    # "-0" passes ge=0; SQLite (which stores NUMERIC as a float) would hand back -0.00.
    return value.copy_abs() if value.is_zero() else value


#: NUMERIC(10, 2); NaN and infinities are not money.
Money = Annotated[
    Decimal,
    Field(ge=0, max_digits=PRICE_DIGITS, decimal_places=PRICE_SCALE, allow_inf_nan=False),
    AfterValidator(_no_negative_zero),
]
Year = Annotated[int, Field(ge=1, le=9999), NotBool]
Stock = Annotated[int, Field(ge=0, le=INT32_MAX), NotBool]
Rating = Annotated[int, Field(ge=1, le=5), NotBool]
Tags = Annotated[list[Tag], Field(max_length=20)]


class _Patch(BaseModel):
    """A partial update: fields left out are unchanged; ``null`` only where a column allows it."""

    model_config = ConfigDict(extra="forbid")
    not_nullable: ClassVar[tuple[str, ...]] = ()

    @field_validator("*")
    @classmethod
    def _no_null_for_required_columns(cls, value: Any, info: Any) -> Any:
        if value is None and info.field_name in cls.not_nullable:
            raise ValueError("may be left out, but not set to null")
        return value

    def changes(self) -> dict[str, Any]:
        """Return the fields the client sent, with their new values."""
        return self.model_dump(exclude_unset=True)


# Authors


class AuthorCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    bio: LongText | None = None


class AuthorUpdate(_Patch):
    not_nullable = ("name",)

    name: Name | None = None
    bio: LongText | None = None


class AuthorPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    bio: str | None
    created_at: dt.datetime
    updated_at: dt.datetime


# Books


class BookFields(BaseModel):
    """What a client says about a book, without saying whose it is."""

    model_config = ConfigDict(extra="forbid")

    title: Name
    isbn: Isbn
    format: BookFormat
    price: Money
    published_year: Year | None = None
    available: bool = True
    tags: Tags = Field(default_factory=list)
    description: LongText | None = None
    stock: Stock = 0


class BookCreate(BookFields):
    author_id: Id


class BookUpdate(_Patch):
    not_nullable = ("author_id", "title", "isbn", "format", "price", "available", "tags", "stock")

    author_id: Id | None = None
    title: Name | None = None
    isbn: Isbn | None = None
    format: BookFormat | None = None
    price: Money | None = None
    published_year: Year | None = None
    available: bool | None = None
    tags: Tags | None = None
    description: LongText | None = None
    stock: Stock | None = None


class BookBulkCreate(BaseModel):
    """Several books for one author, created together or not at all."""

    model_config = ConfigDict(extra="forbid")

    books: Annotated[list[BookFields], Field(min_length=1, max_length=100)]


class BookPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    author_id: int
    title: str
    isbn: str
    format: BookFormat
    price: Decimal
    published_year: int | None
    available: bool
    tags: list[str]
    description: str | None
    stock: int
    created_at: dt.datetime
    updated_at: dt.datetime


# Reviews


class ReviewCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reviewer: ReviewerName
    rating: Rating
    body: LongText | None = None


class ReviewUpdate(_Patch):
    not_nullable = ("reviewer", "rating")

    reviewer: ReviewerName | None = None
    rating: Rating | None = None
    body: LongText | None = None


class ReviewPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    book_id: int
    reviewer: str
    rating: int
    body: str | None
    created_at: dt.datetime
    updated_at: dt.datetime


# Lists

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list: ``items`` in a stable order, and how many match in all."""

    items: list[T]
    total: int
    limit: int
    offset: int
