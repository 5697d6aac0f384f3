"""Small Alembic projects written into pytester's temp dir, and the servers to check them on.

A project is an alembic.ini, an env.py that runs on the connection the harness hands it,
revision scripts and a models module. The inner pytest runs reuse this run's own servers
through the ``external`` launcher, so a test costs a few databases, not a server start.
"""

from __future__ import annotations

import dataclasses
import sys
import textwrap

# Imported here, before any in-process pytester run: pytester forgets the modules a run
# imported, and importing SQLAlchemy's PostgreSQL dialect (which alembic.ddl does) a second
# time registers its SQL functions again, which SQLAlchemy warns about.
import alembic.autogenerate
import alembic.command
import alembic.ddl
import alembic.runtime.environment  # noqa: F401
import pytest

from harness.plugin import RUN_KEY
from harness.run.state import BackendInfo, HarnessRun

ALL_BACKENDS = ("sqlite", "postgresql", "mysql")


INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
filterwarnings =
    error
    # An in-process run meets the harness already imported by the outer one: pytest says so
    # when it cannot tell that the outer run rewrote it (the `pytest` script, not python -m).
    ignore:Module already imported so cannot be rewritten:pytest.PytestAssertRewriteWarning
harness_alembic_ini = alembic.ini
harness_metadata = models:metadata
"""

ALEMBIC_INI = """
[alembic]
script_location = %(here)s/migrations
prepend_sys_path = %(here)s
path_separator = os
"""

ENV_PY = """
from alembic import context

from models import metadata

context.configure(
    connection=context.config.attributes["connection"],
    target_metadata=metadata,
    render_as_batch=True,
)
with context.begin_transaction():
    context.run_migrations()
"""

#: two tables in two revisions; the models match them
MODELS = """
import sqlalchemy as sa

metadata = sa.MetaData()
authors = sa.Table(
    "authors", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
)
books = sa.Table(
    "books", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("author_id", sa.Integer, sa.ForeignKey("authors.id"), nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    {extra_book_columns}
)
"""

AUTHORS = """
def upgrade():
    op.create_table(
        "authors",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
    )


def downgrade():
    op.drop_table("authors")
"""

BOOKS = """
def upgrade():
    op.create_table(
        "books",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("author_id", sa.Integer, sa.ForeignKey("authors.id"), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
    )


def downgrade():
    op.drop_table("books")
"""


@dataclasses.dataclass
class AlembicProject:
    """A project with migrations, and how to run pytest on it against one backend."""

    pytester: pytest.Pytester
    monkeypatch: pytest.MonkeyPatch
    outer: HarnessRun

    def models(self, extra_book_columns: str = "") -> None:
        self.pytester.makepyfile(
            models=textwrap.dedent(MODELS).format(extra_book_columns=extra_book_columns)
        )

    def add_to_ini(self, line: str) -> None:
        ini = self.pytester.path / "pytest.ini"
        ini.write_text(ini.read_text().rstrip("\n") + "\n" + line + "\n")

    def add_to_models(self, code: str) -> None:
        models = self.pytester.path / "models.py"
        models.write_text(models.read_text() + "\n" + textwrap.dedent(code) + "\n")

    def revision(
        self, rev: str, down: str | tuple[str, ...] | None, message: str, body: str
    ) -> None:
        """Write ``migrations/versions/<rev>_<slug>.py``."""
        slug = "_".join(message.lower().split())
        head = (
            f'"""{message}"""\n\nimport sqlalchemy as sa\nfrom alembic import op\n\n'
            f"revision = {rev!r}\ndown_revision = {down!r}\n"
            "branch_labels = None\ndepends_on = None\n\n"
        )
        path = self.pytester.path / "migrations" / "versions" / f"{rev}_{slug}.py"
        path.write_text(head + textwrap.dedent(body))

    def run(self, backend: str, *args: str) -> pytest.RunResult:
        """Run pytest in-process on *backend*; a server backend is this run's own server."""
        self.monkeypatch.delenv("HARNESS_MIGRATION_CHECKS", raising=False)
        # Each project has its own models.py: never let an earlier one answer the import.
        self.monkeypatch.delitem(sys.modules, "models", raising=False)
        options = [f"--harness-backends={backend}"]
        provisioned = self.outer.get(backend)
        if provisioned.server is not None:
            url = provisioned.server.url.render_as_string(hide_password=False)
            # By environment rather than argv: nothing prints it.
            self.monkeypatch.setenv(f"HARNESS_{backend.upper()}_URL", url)
            options.append("--harness-launcher=external")
        return self.pytester.runpytest("-p", "no:cacheprovider", *options, *args)

    def password(self, backend: str) -> str | None:
        server = self.outer.get(backend).server
        return None if server is None else server.url.password


@pytest.fixture
def project(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> AlembicProject:
    """A correct two-revision project (authors, then books); tests break it one way each."""
    pytester.makefile(".ini", pytest=textwrap.dedent(INI), alembic=textwrap.dedent(ALEMBIC_INI))
    (pytester.path / "migrations" / "versions").mkdir(parents=True)
    (pytester.path / "migrations" / "env.py").write_text(textwrap.dedent(ENV_PY))
    pytester.syspathinsert()
    result = AlembicProject(pytester, monkeypatch, request.config.stash[RUN_KEY])
    result.models()
    result.revision("0001", None, "create authors", AUTHORS)
    result.revision("0002", "0001", "create books", BOOKS)
    return result


@pytest.fixture
def backend(db_backend: BackendInfo) -> str:
    """Each backend this run selected (``--harness-backends``), by name."""
    return db_backend.name


@pytest.fixture(params=ALL_BACKENDS)
def any_backend(request: pytest.FixtureRequest) -> str:
    """Every built-in backend, skipped with a reason where this run did not select it.

    For checks whose point is a difference between backends: a SQLite-only run must show
    that the PostgreSQL and MySQL halves did not run, not pass quietly without them.
    """
    name: str = request.param
    selected = request.config.stash[RUN_KEY].config.backends
    if name not in selected:
        pytest.skip(
            f"{name} is not among this run's backends ({', '.join(selected)}): run with "
            f"--harness-backends={name} (or all) to see this check there"
        )
    return name
