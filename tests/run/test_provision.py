"""Choosing a launcher, and the per-run work directory, without starting anything."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.backends.postgresql import PostgreSQLBackend
from harness.errors import ServerError
from harness.launchers.base import LaunchContext
from harness.registry import Registry
from harness.run import workdir
from harness.run.provision import candidate_launchers


class Fake:
    kind = "launcher"
    backends = ("postgresql",)

    def __init__(self, name: str, reason: str | None) -> None:
        self.name = name
        self.reason = reason

    def unavailable_reason(self, backend, ctx):
        return self.reason

    def start(self, backend, ctx):  # pragma: no cover - never called here
        raise AssertionError


def registry_with(*launchers: Fake) -> Registry:
    registry = Registry()
    registry.register(PostgreSQLBackend())
    for launcher in launchers:
        registry.register(launcher)
    return registry


def ctx(tmp_path: Path, **options: str) -> LaunchContext:
    return LaunchContext(workdir=tmp_path, options=options, progress=print, run_id="1_abc")


def first_choice(registry, launcher, ctx):
    return candidate_launchers(registry, PostgreSQLBackend(), launcher, ctx)[0]


def test_auto_prefers_containers_then_local(tmp_path):
    local, containers = Fake("local", None), Fake("containers", None)
    registry = registry_with(local, containers)
    assert first_choice(registry, "auto", ctx(tmp_path)) is containers
    containers.reason = "Docker is not reachable"
    assert first_choice(registry, "auto", ctx(tmp_path)) is local


def test_auto_uses_a_given_url_first(tmp_path):
    external = Fake("external", None)
    registry = registry_with(Fake("containers", None), external)
    chosen = first_choice(registry, "auto", ctx(tmp_path, url="x"))
    assert chosen is external


def test_auto_with_no_way_lists_every_reason(tmp_path):
    registry = registry_with(Fake("containers", "Docker is down"), Fake("local", "no initdb"))
    with pytest.raises(ServerError) as info:
        first_choice(registry, "auto", ctx(tmp_path))
    message = str(info.value)
    assert "containers: Docker is down" in message
    assert "local: no initdb" in message
    assert "--harness-url postgresql=URL" in message


def test_an_explicit_launcher_that_cannot_serve_says_which_can(tmp_path):
    registry = registry_with(Fake("local", None))
    with pytest.raises(ServerError, match="launchers for it: local"):
        first_choice(registry, "containers", ctx(tmp_path))


def test_run_dirs_of_dead_processes_are_swept(tmp_path):
    mine = workdir.create_run_dir(tmp_path)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    stale = tmp_path / "run-stale"
    stale.mkdir()
    (stale / "owner.pid").write_text(dead.stdout.strip())
    removed = workdir.sweep_stale_runs(tmp_path)
    assert removed == [stale]
    assert mine.is_dir()
    assert (mine / "owner.pid").read_text() == str(os.getpid())
    workdir.remove_run_dir(mine)
    assert not mine.exists()
