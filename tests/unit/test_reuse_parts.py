"""The plain parts of ``--harness-reuse``: fingerprints, why a template is stale, keepers."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Column, Integer, MetaData, String, Table
from sqlalchemy.engine import make_url

from harness.launchers._local_process import ProcessRef
from harness.launchers._local_state import State
from harness.run import kept
from harness.run.fingerprint import alembic_digest, metadata_digest, why_stale

NOW = {"schema": "migrations", "digest": "a", "driver": "x", "server": "S 1", "harness": "1"}


def test_why_stale_names_the_first_difference() -> None:
    assert why_stale(dict(NOW), NOW) is None
    assert why_stale({**NOW, "digest": "b"}, NOW) == "migrations changed"
    assert why_stale({**NOW, "driver": "y"}, NOW) == "driver changed (y -> x)"
    assert why_stale({**NOW, "server": "S 0"}, NOW) == "server version changed (S 0 -> S 1)"
    assert why_stale({}, NOW) == "schema source changed (None -> migrations)"


def test_the_alembic_digest_covers_every_script_and_ignores_bytecode(tmp_path: Path) -> None:
    ini = tmp_path / "alembic.ini"
    ini.write_text("[alembic]\nscript_location = %(here)s/migrations\n")
    versions = tmp_path / "migrations" / "versions"
    versions.mkdir(parents=True)
    (tmp_path / "migrations" / "env.py").write_text("# env\n")
    (versions / "r1.py").write_text("revision = 'r1'\n")
    first = alembic_digest(ini)
    (versions / "__pycache__").mkdir()
    (versions / "__pycache__" / "r1.cpython-311.pyc").write_bytes(b"\0")
    assert alembic_digest(ini) == first
    (versions / "r1.py").write_text("revision = 'r1'  # edited\n")
    assert alembic_digest(ini) != first
    (versions / "r1.py").write_text("revision = 'r1'\n")
    (tmp_path / "migrations" / "env.py").write_text("# env, edited\n")
    assert alembic_digest(ini) != first


def test_the_metadata_digest_follows_the_create_statements() -> None:
    def digest(length: int) -> str:
        metadata = MetaData()
        Table("t", metadata, Column("id", Integer, primary_key=True), Column("s", String(length)))
        return metadata_digest(metadata, make_url("postgresql+asyncpg://"))

    assert digest(5) == digest(5)
    assert digest(5) != digest(6)


def test_a_kept_server_is_held_by_its_marker_not_its_owner(tmp_path: Path) -> None:
    me = ProcessRef.of(os.getpid())
    assert me is not None
    dead = ProcessRef(me.pid, "not-this-process")
    assert State(backend="b", owner=me).held()
    assert not State(backend="b", owner=dead).held()
    marker = tmp_path / "marker-1"
    state = State(backend="b", owner=dead, keeper=str(marker))
    assert not state.held()
    marker.touch()
    assert state.held()
    assert State.from_json(state.to_json()) == state
    # Kept by a marker, a live owner no longer matters: removing the marker ends it.
    marker.unlink()
    assert not State(backend="b", owner=me, keeper=str(marker)).held()


def test_the_lock_is_taken_by_one_holder_at_a_time(tmp_path: Path) -> None:
    first = kept.Lock.take(tmp_path)
    assert first is not None
    assert kept.Lock.take(tmp_path) is None
    first.release()
    first.release()
    again = kept.Lock.take(tmp_path)
    assert again is not None
    again.release()
