"""``--harness-reuse`` with the containers launcher: a labelled container kept for the next run.

Real containers on a real Docker engine (scripts/docker-lane runs these); without one they
skip and say why, as the other container tests do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.launchers import _docker
from harness.run import kept
from tests.launchers.test_containers import _docker_or_skip, _image_or_skip
from tests.run.test_reuse import record, reusing, rows, run  # noqa: F401 (fixtures)

pytestmark = pytest.mark.docker


@pytest.fixture
def images() -> dict[str, str]:
    """The image of each backend (taken before `project` clears the HARNESS_* variables)."""
    client = _docker_or_skip()
    try:
        return {backend: _image_or_skip(client, backend) for backend in ("postgresql", "mysql")}
    finally:
        client.close()


def _kept_container(project: pytest.Pytester, backend: str) -> dict[str, str]:
    found = kept.read(kept.key_dir(backend, project.path, create=False))
    assert found is not None
    assert found.launcher == "containers"
    return found.data


def _is_gone(client: Any, container_id: str) -> bool:
    errors = _docker._docker_module("docker.errors")
    try:
        client.containers.get(container_id)
    except errors.NotFound:
        return True
    return False


@pytest.mark.parametrize("backend", ["postgresql", "mysql"])
def test_a_kept_container_serves_the_next_run_until_dropped(
    images: dict[str, str],
    reusing: pytest.Pytester,  # noqa: F811
    record: Path,  # noqa: F811
    backend: str,
) -> None:
    client = _docker_or_skip()
    try:
        args = (
            "--harness-launcher=containers",
            f"--harness-image={backend}={images[backend]}",
            "--harness-reuse",
        )
        first = run(reusing, backend, *args)
        first.assert_outcomes(passed=1)
        first.stdout.fnmatch_lines([f"harness: {backend}: * started, kept for reuse in *s"])
        first.stdout.fnmatch_lines(["*no reaper (--harness-reuse keeps containers)*"])
        [one] = rows(record)
        data = _kept_container(reusing, backend)
        container = client.containers.get(data["container"])
        assert container.status == "running"
        assert container.labels[_docker.LABEL_KEEPER] == data["marker"]
        assert container.labels[_docker.LABEL_OWNER_PID] == str(one["pid"])  # exited now
        # Its owner is gone, but its marker is there: the sweep of dead runs leaves it.
        assert container.name not in _docker.sweep_leftovers(client)

        second = run(reusing, backend, *args)
        second.assert_outcomes(passed=1)
        second.stdout.fnmatch_lines(
            [f"harness: {backend}: * reused (kept server, template current) in *s"]
        )
        [two] = rows(record)
        assert two["server"] == one["server"]
        assert two["database"] != one["database"]
        assert two["columns"] == ["id", "name"]
        # The second run started no container of its own.
        assert not client.containers.list(
            all=True,
            filters={"label": [f"{_docker.LABEL_OWNER_PID}={two['pid']}"]},
        )

        dropped = run(reusing, backend, "--harness-reuse-drop", "--collect-only")
        dropped.stdout.fnmatch_lines([f"harness: reuse: {backend}: removed the kept server (*)*"])
        assert _is_gone(client, data["container"])
        assert kept.project_dirs(reusing.path) == []
    finally:
        client.close()


def test_a_container_whose_marker_is_gone_is_swept(
    images: dict[str, str],
    reusing: pytest.Pytester,  # noqa: F811
    record: Path,  # noqa: F811
) -> None:
    client = _docker_or_skip()
    try:
        run(
            reusing,
            "postgresql",
            "--harness-launcher=containers",
            f"--harness-image=postgresql={images['postgresql']}",
            "--harness-reuse",
        ).assert_outcomes(passed=1)
        data = _kept_container(reusing, "postgresql")
        Path(data["marker"]).unlink()
        container = client.containers.get(data["container"])
        assert container.name in _docker.sweep_leftovers(client)
        assert _is_gone(client, data["container"])
    finally:
        client.close()
