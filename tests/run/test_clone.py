"""A worker's clone of the template is the template: tables, keys, seeded rows; else migrated."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from harness.backends.mysql import MySQLBackend
from harness.backends.postgresql import PostgreSQLBackend
from harness.backends.sqlite import SQLiteBackend
from harness.launchers.base import LaunchContext, Launcher, Server
from harness.launchers.local_mysql import LocalMySQLLauncher
from harness.launchers.local_postgresql import LocalPostgreSQLLauncher
from harness.run.clone import Shared, clone_for_worker
from harness.run.xdist import _mask

PAIRS: dict[str, tuple[Launcher, Any]] = {
    "postgresql": (LocalPostgreSQLLauncher(), PostgreSQLBackend()),
    "mysql": (LocalMySQLLauncher(), MySQLBackend()),
}

SCHEMA = [
    "CREATE TABLE parent (id INTEGER PRIMARY KEY, name VARCHAR(20) NOT NULL UNIQUE)",
    # ':' and '%' in the DDL: the copy must not take them for parameters.
    "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL,"
    " note VARCHAR(40) DEFAULT 'a: 50%', FOREIGN KEY (parent_id) REFERENCES parent (id))",
    "CREATE TABLE version (num VARCHAR(32) NOT NULL)",
    "INSERT INTO version (num) VALUES ('0002')",
    "INSERT INTO parent (id, name) VALUES (1, 'seeded')",
]


@pytest.fixture(scope="module", params=sorted(PAIRS))
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    launcher, backend = PAIRS[request.param]
    ctx = LaunchContext(
        workdir=tmp_path_factory.mktemp("clone"), options={}, progress=lambda line: None, run_id="c"
    )
    reason = launcher.unavailable_reason(backend, ctx)
    if reason is not None:
        pytest.skip(reason)
    started = launcher.start(backend, ctx)
    yield backend, started
    started.stop()


async def run_all(url: URL, statements: list[str]) -> list[Any]:
    engine = create_async_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    out = []
    try:
        async with engine.connect() as conn:
            for sql in statements:
                result = await conn.exec_driver_sql(sql, execution_options={"no_parameters": True})
                out.append(result.all() if result.returns_rows else None)
    finally:
        await engine.dispose()
    return out


async def make_template(backend: Any, server: Server, name: str, extra: list[str]) -> None:
    statements = [f"DROP DATABASE IF EXISTS {name}", f"CREATE DATABASE {name}"]
    await run_all(server.url, statements)
    await run_all(backend.database_url(server.url, name), SCHEMA + extra)


def shared(backend: Any, server: Server, template: str) -> Shared:
    return Shared(
        version="v",
        launcher="local",
        description="d",
        template=template,
        server_url=server.url.render_as_string(hide_password=False),
    )


async def test_the_clone_has_the_tables_keys_and_rows(server: Any, tmp_path: Path) -> None:
    backend, started = server
    await make_template(backend, started, "tpl_a", [])
    provisioned = clone_for_worker(backend, shared(backend, started, "tpl_a"), "gw0", tmp_path)
    assert provisioned.migrated
    assert provisioned.obtained == "cloned from template tpl_a for worker gw0"
    assert provisioned.url.database == "tpl_a_gw0"
    assert provisioned.server is not None
    assert not provisioned.server.owned
    version, seeded, fk, _, note = await run_all(
        provisioned.url,
        [
            "SELECT num FROM version",
            "SELECT name FROM parent",
            "SELECT COUNT(*) FROM information_schema.table_constraints "
            "WHERE constraint_type = 'FOREIGN KEY' AND table_name = 'child'"
            + (" AND table_schema = 'tpl_a_gw0'" if backend.name == "mysql" else ""),
            "INSERT INTO child (id, parent_id) VALUES (1, 1)",
            "SELECT note FROM child",
        ],
    )
    assert version == [("0002",)]
    assert seeded == [("seeded",)]
    assert fk == [(1,)]
    assert note == [("a: 50%",)]
    # The foreign key is enforced in the copy.
    with pytest.raises(Exception, match=r"(?i)foreign key"):
        await run_all(provisioned.url, ["INSERT INTO child (id, parent_id) VALUES (2, 99)"])
    # A second worker's copy is its own.
    other = clone_for_worker(backend, shared(backend, started, "tpl_a"), "gw1", tmp_path)
    await run_all(other.url, ["INSERT INTO parent (id, name) VALUES (2, 'only gw1')"])
    (rows,) = await run_all(provisioned.url, ["SELECT COUNT(*) FROM parent"])
    assert rows == [(1,)]


async def test_a_template_with_a_view_is_copied_whole_or_migrated(
    server: Any, tmp_path: Path
) -> None:
    backend, started = server
    await make_template(backend, started, "tpl_v", ["CREATE VIEW names AS SELECT name FROM parent"])
    provisioned = clone_for_worker(backend, shared(backend, started, "tpl_v"), "gw0", tmp_path)
    if backend.name == "mysql":
        # Replaying SHOW CREATE TABLE would leave the view out: the worker migrates instead.
        assert not provisioned.migrated
        assert provisioned.obtained == "created for worker gw0, migrated by it"
        (tables,) = await run_all(provisioned.url, ["SHOW TABLES"])
        assert tables == []
    else:
        # PostgreSQL's TEMPLATE copies the view with everything else.
        assert provisioned.migrated
        (names,) = await run_all(provisioned.url, ["SELECT name FROM names"])
        assert names == [("seeded",)]


def test_sqlite_copies_the_file(tmp_path: Path) -> None:
    import sqlite3

    backend = SQLiteBackend()
    template = backend.embedded_url(tmp_path)
    assert template.database is not None
    with sqlite3.connect(template.database) as conn:
        conn.execute("CREATE TABLE t (x INTEGER)")
        conn.execute("INSERT INTO t VALUES (7)")
    worker = tmp_path / "gw0"
    worker.mkdir()
    share = Shared(template=template.render_as_string(), version="SQLite", launcher="file")
    provisioned = clone_for_worker(backend, share, "gw0", worker)
    assert provisioned.migrated
    assert provisioned.url.database == str(worker / "harness.sqlite3")
    with sqlite3.connect(str(provisioned.url.database)) as conn:
        assert conn.execute("SELECT x FROM t").fetchall() == [(7,)]


def test_the_handoff_mask_is_its_own_inverse_and_hides_the_password() -> None:
    secret = b'{"server_url": "postgresql://u:s3cret-password@127.0.0.1:5432/"}' * 3
    key = bytes(range(32))
    masked = _mask(secret, key)
    assert b"s3cret" not in masked
    assert _mask(masked, key) == secret
