"""A table with one column of each common type, created for the round-trip tests only."""

from __future__ import annotations

import enum

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Double,
    Enum,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
    Time,
    UniqueConstraint,
    Uuid,
)


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


metadata = MetaData()
parents = Table("harness_probe_parents", metadata, Column("id", Integer, primary_key=True))
probe = Table(
    "harness_probe",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(5), nullable=False),
    Column("small", SmallInteger, nullable=False),
    Column("big", BigInteger),
    Column("amount", Numeric(5, 2), nullable=False),
    #: wider than a double holds: SQLite, which stores NUMERIC as a float, rounds it
    Column("wide", Numeric(20, 4)),
    Column("ratio", Float),
    Column("exact", Double),
    Column("flag", Boolean, nullable=False),
    Column("colour", Enum(Colour, native_enum=False, create_constraint=True), nullable=False),
    Column("moment", DateTime),
    Column("moment_tz", DateTime(timezone=True)),
    Column("day", Date),
    Column("clock", Time),
    Column("doc", JSON),
    Column("blob", LargeBinary(8)),
    Column("token", Uuid),
    Column("note", Text),
    Column("parent_id", ForeignKey("harness_probe_parents.id")),
    Column("level", Integer, CheckConstraint("level BETWEEN 3 AND 7"), nullable=False),
    Column("score", Integer, nullable=False),
    CheckConstraint("score > -2 AND score < 2"),
    CheckConstraint("length(code) >= 2"),
    UniqueConstraint("code"),
)
