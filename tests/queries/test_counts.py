"""Query counts and the N+1 report give the same numbers on every backend."""

from __future__ import annotations

from tests.wiring.conftest import Shape

LIBRARY = """
from fastapi import Depends, FastAPI, HTTPException
from sqlalchemy import ForeignKey, String, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncAttrs, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, selectinload


class Base(AsyncAttrs, DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "authors"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    books: Mapped[list["Book"]] = relationship(back_populates="author")


class Book(Base):
    __tablename__ = "books"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(50))
    author_id: Mapped[int] = mapped_column(ForeignKey("authors.id"))
    author: Mapped[Author] = relationship(back_populates="books")


metadata = Base.metadata
maker = async_sessionmaker(create_async_engine(OWN_URL), expire_on_commit=False)


async def get_session():
    async with maker() as session:
        yield session


app = FastAPI()


@app.get("/authors")
async def authors(session: AsyncSession = Depends(get_session)):
    result = []
    for author in (await session.scalars(select(Author).order_by(Author.id))).all():
        books = await author.awaitable_attrs.books  # N+1: one SELECT per author
        result.append({"name": author.name, "books": len(books)})
    return result


@app.get("/authors-eager")
async def authors_eager(session: AsyncSession = Depends(get_session)):
    query = select(Author).options(selectinload(Author.books)).order_by(Author.id)
    authors = (await session.scalars(query)).all()
    return [{"name": a.name, "books": len(a.books)} for a in authors]


@app.post("/authors/{name}", status_code=201)
async def create(name: str, session: AsyncSession = Depends(get_session)):
    session.add(Author(name=name))
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise HTTPException(409, "duplicate") from None
"""

SEED = """
import pytest
from shapeapp import Author, Book


@pytest.fixture
async def five_authors(db_session):
    for i in range(5):
        db_session.add(Author(name=f"a{i}", books=[Book(title=f"b{i}"), Book(title=f"c{i}")]))
    await db_session.flush()
"""


def loop_line(shape: Shape) -> int:
    """The line of the written app that loads each author's books."""
    source = (shape.pytester.path / "shapeapp.py").read_text().splitlines()
    return next(n for n, line in enumerate(source, 1) if "awaitable_attrs" in line)


def test_an_n_plus_one_is_named_with_the_line_of_the_loop(shape: Shape) -> None:
    shape.write(
        LIBRARY,
        SEED
        + """

async def test_listing(client, five_authors):
    assert (await client.get("/authors")).status_code == 200
""",
        ini_lines="harness_nplusone = fail\nharness_nplusone_threshold = 3\n",
    )
    result = shape.run()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*harness: N+1 queries: a statement sent more than 3 times in one request*",
            f"*5 x SELECT books.* <- shapeapp:{loop_line(shape)}",
        ]
    )


def test_eager_loading_gives_the_same_count_on_every_backend(shape: Shape) -> None:
    shape.write(
        LIBRARY,
        SEED
        + """

async def test_eager(client, five_authors, db_queries):
    with db_queries.exactly(2):
        response = await client.get("/authors-eager")
    assert [a["books"] for a in response.json()] == [2] * 5


async def test_commits_and_rollbacks_are_not_counted(client, db_queries):
    with db_queries.exactly(1):
        assert (await client.post("/authors/x")).status_code == 201
    with db_queries.exactly(1):  # the INSERT that fails; its ROLLBACK is the machinery's
        assert (await client.post("/authors/x")).status_code == 409
    assert len(db_queries) == 2


async def test_a_failing_block_lists_what_was_sent(client, five_authors, db_queries):
    with db_queries.at_most(2):
        await client.get("/authors")
""",
        ini_lines="harness_nplusone = warn\n",
    )
    result = shape.run("-p", "no:randomly", "-W", "ignore::pytest.PytestWarning")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            f"*QueryCountError: expected at most 2 statements on {shape.backend}, "
            "the code under test sent 6:",
            "*1 x SELECT authors.id, authors.name * <- shapeapp:*",
            f"*5 x SELECT books.* <- shapeapp:{loop_line(shape)} (x5)",
        ]
    )


def test_the_marker_bounds_a_whole_test(shape: Shape) -> None:
    shape.write(
        LIBRARY,
        """
import pytest


@pytest.mark.harness_max_queries(1)
async def test_two_requests(client):
    await client.post("/authors/x")
    await client.post("/authors/y")


@pytest.mark.harness_max_queries(2)
async def test_within(client):
    await client.post("/authors/x")
    await client.post("/authors/y")
""",
    )
    result = shape.run("-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [f"*harness: @harness_max_queries(1) on {shape.backend}: the code under test sent 2*"]
    )


def test_hypothesis_examples_count_one_by_one(shape: Shape) -> None:
    shape.write(
        LIBRARY,
        """
from hypothesis import given, settings, strategies as st


@settings(max_examples=10)
@given(name=st.text(alphabet="abcdef", min_size=1, max_size=10))
async def test_each_example(client, db_queries, name):
    with db_queries.exactly(1):
        assert (await client.post(f"/authors/{name}")).status_code == 201
""",
    )
    shape.run().assert_outcomes(passed=1)
