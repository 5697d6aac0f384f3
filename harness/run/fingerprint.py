"""What a kept template's schema depends on, and why a kept template no longer fits.

A template is current while its fingerprint is unchanged: the schema source (every file
under the Alembic script location, alembic.ini and env.py included; without Alembic, the
``CREATE`` statements of ``harness_metadata`` on the backend's dialect), the tests' driver,
the server's version and the harness's version. Reading it never imports Alembic.
"""

from __future__ import annotations

import configparser
import hashlib
import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import harness

if TYPE_CHECKING:
    from sqlalchemy import MetaData
    from sqlalchemy.engine import URL

    from harness.run.state import HarnessRun

#: how each schema source is named in the "rebuilt" line
_CHANGED = {"migrations": "migrations changed", "metadata": "metadata changed"}


def _script_location(ini_path: Path) -> Path | None:
    """The Alembic script directory *ini_path* names, as Alembic resolves it (or None)."""
    parser = configparser.ConfigParser(defaults={"here": str(ini_path.parent)})
    try:
        parser.read(ini_path, encoding="utf-8")
        location = parser.get("alembic", "script_location")
    except (OSError, configparser.Error):
        return None
    package, sep, inner = location.partition(":")
    if sep and not os.path.isabs(location) and len(package) > 1:  # "package:path"
        spec = importlib.util.find_spec(package)
        found = spec and spec.submodule_search_locations
        return Path(next(iter(found))) / inner if found else None
    path = Path(location)
    return path if path.is_absolute() else ini_path.parent / path


def _files(directory: Path) -> Iterator[Path]:
    for path in sorted(directory.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            yield path


def alembic_digest(ini_path: Path) -> str:
    """A hash of alembic.ini and every file under its script location (names and bytes)."""
    digest = hashlib.sha256()
    digest.update(ini_path.read_bytes() if ini_path.is_file() else b"(missing)")
    location = _script_location(ini_path)
    if location is not None and location.is_dir():
        for path in _files(location):
            digest.update(b"\0" + str(path.relative_to(location)).encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()


def metadata_digest(metadata: MetaData, url: URL) -> str:
    """A hash of the CREATE TABLE and CREATE INDEX statements of *metadata* on *url*'s dialect."""
    from sqlalchemy.schema import CreateIndex, CreateTable

    dialect = url.get_dialect()()
    digest = hashlib.sha256()
    for table in metadata.sorted_tables:
        digest.update(str(CreateTable(table).compile(dialect=dialect)).encode())
        for index in sorted(table.indexes, key=lambda i: str(i.name)):
            digest.update(str(CreateIndex(index).compile(dialect=dialect)).encode())
    return digest.hexdigest()


def fingerprint(run: HarnessRun, url: URL, version: str) -> dict[str, str]:
    """The fingerprint of a template on the server at *url* (the tests' driver) at *version*.

    Raises `HarnessError` (`ConfigError`) when the schema source cannot be read.
    """
    from harness.run.template import schema_source

    alembic_ini, metadata = schema_source(run)
    if alembic_ini is not None:
        kind, digest = "migrations", alembic_digest(alembic_ini)
    elif metadata is not None:
        kind, digest = "metadata", metadata_digest(metadata, url)
    else:
        kind, digest = "none", ""
    return {
        "schema": kind,
        "digest": digest,
        "driver": url.drivername,
        "server": version,
        "harness": harness.__version__,
    }


def why_stale(kept: dict[str, str], now: dict[str, str]) -> str | None:
    """Why a template of fingerprint *kept* does not fit *now*, in a few words; None if it does."""
    if kept.get("schema") != now["schema"]:
        return f"schema source changed ({kept.get('schema')} -> {now['schema']})"
    if kept.get("digest") != now["digest"]:
        return _CHANGED.get(now["schema"], "schema changed")
    for key, what in (("driver", "driver"), ("server", "server version"), ("harness", "harness")):
        if kept.get(key) != now[key]:
            return f"{what} changed ({kept.get(key)} -> {now[key]})"
    return None
