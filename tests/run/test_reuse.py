"""``--harness-reuse``: a kept server and template serve the next run; nothing kept otherwise.

Each test drives real pytest runs of the small project (pytester, in subprocesses) on real
servers; its project root is its own, and so is what it keeps (the key includes the root).
Whatever a test kept is dropped at its end.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Imported here, before any pytester snapshot of sys.modules: pytester removes the modules a
# test imported when it ends, and asyncpg's compiled protocol crashes the process (a
# segfault in BaseProtocol.__init__) when it is imported a second time.
import asyncpg  # noqa: F401
import pytest

from harness.builtins import default_registry
from harness.launchers._local_process import service_account
from harness.launchers._local_state import read_state, servers_root
from harness.run import kept, spare
from harness.run.drop import drop_kept
from tests.run.test_xdist import gone, local_or_skip, wait_for

#: a test that records the process it ran in and the database it used
RECORDER = """
import json, os

from sqlalchemy import inspect


async def test_record(db_engine, db_session, db_backend):
    conn = await db_session.connection()
    columns = await conn.run_sync(
        lambda sync: [c["name"] for c in inspect(sync).get_columns("items")]
    )
    url = db_engine.url
    with open(os.environ["RECORD"], "a") as f:
        f.write(json.dumps({
            "pid": os.getpid(),
            "server": f"{url.host}:{url.port}",
            "database": url.database,
            "columns": columns,
        }) + "\\n")
"""

ENV_PY = """
from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection)
with context.begin_transaction():
    context.run_migrations()
"""

REVISION = """
import sqlalchemy as sa
from alembic import op

revision = {revision!r}
down_revision = {down!r}


def upgrade():
    {body}
"""

FIRST = (
    'op.create_table("items", sa.Column("id", sa.Integer, primary_key=True), '
    'sa.Column("name", sa.String(50)))'
)
SECOND = 'op.add_column("items", sa.Column("extra", sa.String(20)))'


@pytest.fixture
def record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "records.jsonl"
    monkeypatch.setenv("RECORD", str(path))
    return path


def rows(path: Path) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    path.write_text("")
    return rows


@pytest.fixture
def reusing(project: pytest.Pytester, record: Path) -> Iterator[pytest.Pytester]:
    """The project with the recording test; what its runs keep is dropped at the end."""
    project.makepyfile(test_record=RECORDER)
    try:
        yield project
    finally:
        drop_kept(default_registry(), project.path)
        assert kept.project_dirs(project.path) == []


def run(project: pytest.Pytester, backend: str, *args: str) -> pytest.RunResult:
    return project.runpytest_subprocess(
        "-p", "no:cacheprovider", f"--harness-backends={backend}", *args
    )


def kept_server(project: pytest.Pytester, backend: str) -> tuple[Path, int]:
    """The directory and server PID of *backend*'s kept local server for *project*."""
    record = kept.read(kept.key_dir(backend, project.path, create=False))
    assert record is not None
    directory = Path(record.data["directory"])
    state = read_state(directory)
    assert state is not None
    assert state.server is not None
    return directory, state.server.pid


def servers_of(pid: int) -> list[Path]:
    return list(servers_root(service_account()).glob(f"*-{pid}-*"))


@pytest.mark.parametrize("backend", ["sqlite", "postgresql", "mysql"])
def test_the_second_run_reuses_the_kept_server_and_template(
    reusing: pytest.Pytester, record: Path, backend: str, tmp_path: Path
) -> None:
    local_or_skip(backend, tmp_path)
    first = run(reusing, backend, "--harness-reuse")
    first.assert_outcomes(passed=1)
    made = "template file made, kept" if backend == "sqlite" else "started, kept for reuse"
    first.stdout.fnmatch_lines([f"harness: {backend}: * {made}* in *s"])
    [one] = rows(record)
    second = run(reusing, backend, "--harness-reuse")
    second.assert_outcomes(passed=1)
    reused = (
        "reused (kept template file, current)"
        if backend == "sqlite"
        else ("reused (kept server, template current)")
    )
    second.stdout.fnmatch_lines([f"harness: {backend}: * {reused} in *s"])
    [two] = rows(record)
    assert two["columns"] == ["id", "name"]
    if backend != "sqlite":
        # The same server, and no server of the second run's own.
        assert two["server"] == one["server"]
        assert servers_of(two["pid"]) == []
        assert two["database"] != one["database"]
        directory, pid = kept_server(reusing, backend)
        assert not gone(pid)
        assert directory.name.split("-")[1] == str(one["pid"])


def test_each_run_leaves_a_spare_copy_that_the_next_takes(
    reusing: pytest.Pytester, record: Path, tmp_path: Path
) -> None:
    local_or_skip("postgresql", tmp_path)
    for _ in range(3):
        result = run(reusing, "postgresql", "--harness-reuse")
        result.assert_outcomes(passed=1)
        found = kept.read(kept.key_dir("postgresql", reusing.path, create=False))
        assert found is not None
        # Made while the tests ran, finished before the run let go of the server.
        assert found.spare == spare.SPARE
        assert spare.SPARE in _databases("postgresql", found.url)
    runs = rows(record)
    assert [r["columns"] for r in runs] == [["id", "name"]] * 3
    assert len({r["database"] for r in runs}) == 3  # each its own, the spare renamed


@pytest.mark.parametrize("backend", ["postgresql", "mysql"])
def test_each_run_leaves_its_database_for_the_next_to_drop(
    reusing: pytest.Pytester, record: Path, tmp_path: Path, backend: str
) -> None:
    local_or_skip(backend, tmp_path)
    for _ in range(3):
        run(reusing, backend, "--harness-reuse").assert_outcomes(passed=1)
        (used,) = (r["database"] for r in rows(record))
        found = kept.read(kept.key_dir(backend, reusing.path, create=False))
        assert found is not None
        # Its own is named for the next run; the one the run before it left is gone.
        assert found.leftover == [used]
        assert [n for n in _databases(backend, found.url) if n.startswith("harness_")] == sorted(
            {used, "harness_template"} | ({spare.SPARE} if backend == "postgresql" else set())
        )


def _databases(backend: str, url: str) -> list[str]:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    listing = "SELECT datname FROM pg_database" if backend == "postgresql" else "SHOW DATABASES"

    async def names() -> list[str]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                result = await conn.execute(text(listing))
                return sorted(str(row[0]) for row in result.all())
        finally:
            await engine.dispose()

    return asyncio.run(names())


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_changed_migration_rebuilds_the_template_loudly(
    reusing: pytest.Pytester, record: Path, backend: str, tmp_path: Path
) -> None:
    local_or_skip(backend, tmp_path)
    versions = reusing.path / "migrations" / "versions"
    versions.mkdir(parents=True)
    (reusing.path / "migrations" / "env.py").write_text(ENV_PY)
    (reusing.path / "alembic.ini").write_text("[alembic]\nscript_location = migrations\n")
    (versions / "r1.py").write_text(REVISION.format(revision="r1", down=None, body=FIRST))
    ini = (reusing.path / "pytest.ini").read_text()
    (reusing.path / "pytest.ini").write_text(ini + "\nharness_alembic_ini = alembic.ini\n")
    run(reusing, backend, "--harness-reuse").assert_outcomes(passed=1)
    assert rows(record)[0]["columns"] == ["id", "name"]
    (versions / "r2.py").write_text(REVISION.format(revision="r2", down="r1", body=SECOND))
    result = run(reusing, backend, "--harness-reuse")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"harness: {backend}: migrations changed: rebuilding*"])
    assert "template rebuilt: migrations changed" in result.stdout.str()
    assert rows(record)[0]["columns"] == ["id", "name", "extra"]
    # Rebuilt once: the next run reuses it as it is.
    again = run(reusing, backend, "--harness-reuse")
    assert "rebuilding" not in again.stdout.str()
    again.stdout.fnmatch_lines(["*reused (kept * current) in *"])


@pytest.mark.parametrize("backend", ["postgresql", "mysql"])
def test_drop_removes_the_kept_server_and_says_so(
    reusing: pytest.Pytester, record: Path, backend: str, tmp_path: Path
) -> None:
    local_or_skip(backend, tmp_path)
    run(reusing, backend, "--harness-reuse").assert_outcomes(passed=1)
    directory, pid = kept_server(reusing, backend)
    result = run(reusing, backend, "--harness-reuse-drop")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"harness: reuse: {backend}: removed the kept server (*)*"])
    assert gone(pid)
    assert not directory.exists()
    assert kept.project_dirs(reusing.path) == []
    # This run used a server of its own, removed at its end as without the flag.
    assert servers_of(rows(record)[0]["pid"]) == []


def test_without_the_flag_nothing_is_left(reusing: pytest.Pytester, record: Path) -> None:
    local_or_skip("postgresql", Path("/"))
    run(reusing, "postgresql").assert_outcomes(passed=1)
    assert kept.project_dirs(reusing.path) == []
    assert servers_of(rows(record)[0]["pid"]) == []


def test_removing_the_kept_directory_stops_the_server(
    reusing: pytest.Pytester, record: Path
) -> None:
    local_or_skip("postgresql", Path("/"))
    run(reusing, "postgresql", "--harness-reuse").assert_outcomes(passed=1)
    directory, pid = kept_server(reusing, "postgresql")
    kept.remove(kept.key_dir("postgresql", reusing.path, create=False))
    # The watchdog notices the keeper's marker is gone.
    assert wait_for(lambda: gone(pid) and not directory.exists(), 30)


WAITER = """
import os, time


def test_wait(db_session):
    open(os.environ["RECORD"] + ".running", "w").close()
    while not os.path.exists(os.environ["RECORD"] + ".go"):
        time.sleep(0.05)
"""


def test_a_concurrent_run_gets_a_server_of_its_own(reusing: pytest.Pytester, record: Path) -> None:
    local_or_skip("postgresql", Path("/"))
    run(reusing, "postgresql", "--harness-reuse").assert_outcomes(passed=1)
    rows(record)
    _, pid = kept_server(reusing, "postgresql")
    waiter = reusing.path / "waiter"
    waiter.mkdir()
    (waiter / "test_wait.py").write_text(textwrap.dedent(WAITER))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(reusing.path), *sys.path]))
    holder = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            "waiter",
            "--harness-backends=postgresql",
            "--harness-reuse",
        ],
        cwd=reusing.path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert wait_for(lambda: Path(f"{record}.running").exists(), 60)
        result = run(reusing, "postgresql", "--harness-reuse", "test_record.py")
        result.assert_outcomes(passed=1)
        result.stdout.fnmatch_lines(
            [
                "harness: postgresql: the kept server is in use by another run; this run starts "
                "its own (not kept)"
            ]
        )
        [own] = rows(record)
        assert servers_of(own["pid"]) == []  # removed at its end
    finally:
        Path(f"{record}.go").touch()
        out, _ = holder.communicate(timeout=60)
    assert holder.returncode == 0, out
    assert "reused (kept server, template current)" in out
    assert not gone(pid)


def test_under_xdist_the_controller_reuses(reusing: pytest.Pytester, record: Path) -> None:
    pytest.importorskip("xdist")
    local_or_skip("postgresql", Path("/"))
    reusing.makepyfile(
        test_more="""
        import pytest

        @pytest.mark.parametrize("i", range(4))
        async def test_more(db_session, i):
            pass
        """
    )
    first = run(reusing, "postgresql", "--harness-reuse", "-n", "2")
    first.assert_outcomes(passed=5)
    first.stdout.fnmatch_lines(
        ["harness: postgresql: started, kept for reuse by the xdist controller in *s; *"]
    )
    second = run(reusing, "postgresql", "--harness-reuse", "-n", "2")
    second.assert_outcomes(passed=5)
    second.stdout.fnmatch_lines(
        [
            "harness: postgresql: reused (kept server, template current) by the xdist "
            "controller in *",
            "harness: postgresql: cloned from template * for worker gw*",
        ]
    )
    one, two = (r["server"] for r in rows(record))
    assert one == two
    assert not gone(kept_server(reusing, "postgresql")[1])
