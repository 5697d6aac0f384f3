"""add books.stock: a column with a server default, a CHECK constraint and an index

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 22:05:00

Alters a table that may already hold rows: the server default fills them in. SQLite cannot
add a constraint to an existing table, so batch mode rebuilds ``books`` there (copy, drop,
rename) and emits plain ALTER TABLE statements on PostgreSQL and MySQL/MariaDB.

On SQLite, run it with foreign keys off (``PRAGMA foreign_keys`` is off unless a connection
turns it on; the ``alembic`` command's engine does not): with them on, dropping the old
``books`` during the rebuild would cascade into ``reviews``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("books") as batch_op:
        batch_op.add_column(
            sa.Column("stock", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
        batch_op.create_check_constraint(op.f("ck_books_stock_not_negative"), "stock >= 0")
        batch_op.create_index(op.f("ix_books_stock"), ["stock"])


def downgrade() -> None:
    with op.batch_alter_table("books") as batch_op:
        batch_op.drop_index(op.f("ix_books_stock"))
        batch_op.drop_constraint(op.f("ck_books_stock_not_negative"), type_="check")
        batch_op.drop_column("stock")
