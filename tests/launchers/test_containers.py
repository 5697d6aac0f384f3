"""The containers launcher: its messages without Docker, and real containers where Docker runs.

The tests that start containers need a reachable Docker engine and an image already present
for the backend: the one in ``HARNESS_<BACKEND>_IMAGE`` (the Docker lane sets these to the
images it builds), else the launcher's default image if it was pulled before. They never pull.
Without those they skip and say why; with ``HARNESS_REQUIRE_CONTAINERS=1`` (the lane sets it)
they fail instead, so the lane cannot pass by skipping them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from harness.backends.mysql import MySQLBackend
from harness.backends.postgresql import PostgreSQLBackend
from harness.errors import ServerError
from harness.launchers import _docker, containers
from harness.launchers.base import LaunchContext, Launcher, LauncherUnavailable
from harness.launchers.containers import ContainersLauncher
from harness.registry import Registry

BACKENDS = {"postgresql": PostgreSQLBackend(), "mysql": MySQLBackend()}


class Progress(list[str]):
    """Collects the progress lines a launcher prints."""

    def __call__(self, line: str) -> None:
        self.append(line)


def make_ctx(tmp_path: Path, **options: str) -> LaunchContext:
    return LaunchContext(
        workdir=tmp_path, options=dict(options), progress=Progress(), run_id="unit_abc123"
    )


# --- without Docker: always run ------------------------------------------------------------


def test_it_is_a_launcher_registered_for_both_server_backends() -> None:
    registry = Registry()
    containers.register(registry)
    launcher = registry.launcher("containers", "postgresql")
    assert isinstance(launcher, Launcher)
    assert launcher is registry.launcher("containers", "mysql")
    assert set(ContainersLauncher.backends) == {"postgresql", "mysql"}
    assert set(containers.DEFAULT_IMAGES) == set(ContainersLauncher.backends)


def test_unreachable_docker_gives_one_line_with_the_alternatives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker-here.sock")
    launcher = ContainersLauncher()
    started = time.perf_counter()
    reason = launcher.unavailable_reason(BACKENDS["postgresql"], make_ctx(tmp_path))
    assert time.perf_counter() - started < _docker.PING_TIMEOUT + 1  # `auto` asks this
    assert reason is not None
    assert reason.startswith("Docker is not reachable (")
    assert reason.endswith(
        "Start Docker, or run with --harness-launcher=local, or give --harness-url postgresql=..."
    )
    assert "\n" not in reason
    with pytest.raises(LauncherUnavailable, match="Docker is not reachable"):
        launcher.start(BACKENDS["postgresql"], make_ctx(tmp_path))


def test_the_hint_names_the_backend_asked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker-here.sock")
    reason = ContainersLauncher().unavailable_reason(BACKENDS["mysql"], make_ctx(tmp_path))
    assert reason is not None
    assert reason.endswith("--harness-url mysql=...")


def test_without_testcontainers_it_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_find_spec = containers.importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        return None if name == "testcontainers" else real_find_spec(name, *args)

    monkeypatch.setattr(containers.importlib.util, "find_spec", find_spec)
    reason = ContainersLauncher().unavailable_reason(BACKENDS["postgresql"], make_ctx(tmp_path))
    assert reason is not None
    assert "pip install 'pytest-harness[containers]'" in reason
    assert "--harness-launcher=local" in reason


@pytest.fixture
def socket_path() -> Iterator[str]:
    """A path for a Unix socket, short enough for the 108-byte limit tmp_path may exceed."""
    directory = tempfile.mkdtemp(prefix="harness-sock-")
    yield os.path.join(directory, "docker.sock")
    shutil.rmtree(directory, ignore_errors=True)


def test_a_stale_socket_file_is_not_an_engine(
    socket_path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What a stopped engine leaves behind: the file, with nobody listening.
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(socket_path)
    monkeypatch.setenv("DOCKER_HOST", f"unix://{socket_path}")
    reason = ContainersLauncher().unavailable_reason(BACKENDS["postgresql"], make_ctx(tmp_path))
    assert reason is not None
    assert reason.startswith(f"Docker is not reachable ({socket_path}: ")
    assert "--harness-launcher=local" in reason


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK", None),
        (b"HTTP/1.1 500 Internal Server Error\r\n\r\n", "answered 'HTTP/1.1 500"),
        (b"", "answered 'nothing'"),
    ],
)
def test_the_ping_reads_the_engines_status_line(
    socket_path: str, reply: bytes, reason: str | None
) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(socket_path)
        server.listen(1)

        def answer() -> None:
            conn, _ = server.accept()
            with conn:
                request = conn.recv(1024)
                assert request.startswith(b"GET /_ping HTTP/1.")
                conn.sendall(reply)

        thread = threading.Thread(target=answer)
        thread.start()
        found = _docker._ping_unix_socket(socket_path)
        thread.join(5)
    if reason is None:
        assert found is None
    else:
        assert found is not None
        assert reason in found


def test_a_remote_engine_is_refused_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "ssh://builder@build-box.internal")
    reason = ContainersLauncher().unavailable_reason(BACKENDS["mysql"], make_ctx(tmp_path))
    assert reason is not None
    assert "is not on this machine" in reason
    assert "127.0.0.1" in reason


@pytest.mark.parametrize(
    ("base_url", "local"),
    [
        ("http+docker://localhost", True),  # the SDK's name for a Unix socket
        ("http+unix://%2Fvar%2Frun%2Fdocker.sock", True),
        ("npipe:////./pipe/docker_engine", True),
        ("http://127.0.0.1:2375", True),
        ("https://localhost:2376", True),
        ("http://build-box.internal:2375", False),
        ("https://10.1.2.3:2376", False),
    ],
)
def test_only_an_engine_on_this_machine_will_do(base_url: str, local: bool) -> None:
    # Ports are published on 127.0.0.1: a remote engine's would be out of reach.
    assert _docker._is_local_engine(base_url) is local


class FakeClient:
    """Just enough of the Docker SDK client for `start` to reach the container's start."""

    class images:
        @staticmethod
        def get(name: str) -> object:
            return object()

    class containers:
        @staticmethod
        def list(**kwargs: object) -> list[object]:
            return []

    def close(self) -> None:
        pass


class FailingContainer:
    """A testcontainers container whose start fails, with the password in the message."""

    def __init__(self, password: str) -> None:
        self.password = password
        self.ports: dict[str, object] = {}
        self.stopped = False

    def start(self) -> None:
        raise TimeoutError(f"not ready; tried password {self.password}")

    def get_wrapped_container(self) -> Any:
        raise RuntimeError("never started")

    def stop(self) -> None:
        self.stopped = True


def test_a_failed_start_removes_the_container_and_hides_the_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("testcontainers", reason="testcontainers is not installed")
    made: list[FailingContainer] = []

    def make(image: str, password: str, labels: dict[str, str]) -> FailingContainer:
        made.append(FailingContainer(password))
        return made[-1]

    recipe = containers._RECIPES["postgresql"]
    monkeypatch.setitem(
        containers._RECIPES, "postgresql", containers._Recipe(recipe.port, make, recipe.url)
    )
    monkeypatch.setattr(containers, "docker_client", lambda timeout: FakeClient())
    monkeypatch.setattr(ContainersLauncher, "_ping", lambda self: None)
    monkeypatch.setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
    from testcontainers.core.config import testcontainers_config

    monkeypatch.setattr(testcontainers_config, "_ryuk_disabled", True)

    ctx = make_ctx(tmp_path, image="example/postgres:test")
    with pytest.raises(ServerError) as excinfo:
        ContainersLauncher().start(BACKENDS["postgresql"], ctx)
    message = str(excinfo.value)
    assert "did not become ready" in message
    assert "--harness-image postgresql=IMAGE" in message
    assert made[0].password not in message
    assert "***" in message
    assert made[0].stopped
    # Ports go to 127.0.0.1 only.
    assert made[0].ports == {"5432": ("127.0.0.1", None)}


def test_an_engine_that_stops_answering_after_the_ping_gives_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("testcontainers", reason="testcontainers is not installed")

    def refuse(timeout: float) -> Any:
        raise ConnectionError("connection refused")

    monkeypatch.setattr(ContainersLauncher, "_ping", lambda self: None)
    monkeypatch.setattr(containers, "docker_client", refuse)
    with pytest.raises(ServerError, match=r"Docker stopped answering \(ConnectionError"):
        ContainersLauncher().start(BACKENDS["mysql"], make_ctx(tmp_path))


# --- with Docker: real containers ----------------------------------------------------------


def _docker_or_skip() -> Any:
    """A Docker SDK client, or skip (fail in the lane) saying why there is none."""
    require = os.environ.get("HARNESS_REQUIRE_CONTAINERS") == "1"

    def unavailable(why: str) -> Any:
        if require:
            pytest.fail(f"HARNESS_REQUIRE_CONTAINERS=1 but {why}")
        pytest.skip(why)

    if ContainersLauncher()._ping() is not None:
        return unavailable(f"{ContainersLauncher()._ping()}: no container tests here")
    return _docker.docker_client(_docker.API_TIMEOUT)


def _image_or_skip(client: Any, backend: str) -> str:
    variable = f"HARNESS_{backend.upper()}_IMAGE"
    image = os.environ.get(variable) or containers.DEFAULT_IMAGES[backend]
    errors = _docker._docker_module("docker.errors")
    try:
        client.images.get(image)
    except errors.ImageNotFound:
        why = (
            f"the image {image} is not present (tests never pull): set {variable} to an "
            "image that is, or run scripts/docker-lane"
        )
        if os.environ.get("HARNESS_REQUIRE_CONTAINERS") == "1":
            pytest.fail(f"HARNESS_REQUIRE_CONTAINERS=1 but {why}")
        pytest.skip(why)
    return image


@pytest.fixture
def docker_client() -> Iterator[Any]:
    client = _docker_or_skip()
    yield client
    client.close()


async def _select_one(url: Any) -> int:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return int((await conn.execute(text("SELECT 1"))).scalar_one())
    finally:
        await engine.dispose()


@pytest.mark.docker
@pytest.mark.parametrize("backend_name", ["postgresql", "mysql"])
def test_starts_a_labelled_loopback_container_and_removes_it(
    backend_name: str, docker_client: Any, tmp_path: Path
) -> None:
    pytest.importorskip("testcontainers", reason="testcontainers is not installed")
    backend = BACKENDS[backend_name]
    if backend.check_driver() is not None:
        pytest.skip(f"{backend_name}'s async driver is missing: {backend.check_driver()}")
    image = _image_or_skip(docker_client, backend_name)
    ctx = make_ctx(tmp_path, image=image)
    launcher = ContainersLauncher()
    assert launcher.unavailable_reason(backend, ctx) is None

    server = launcher.start(backend, ctx)
    try:
        assert server.launcher == "containers"
        assert server.owned
        assert server.url.host == "127.0.0.1"
        assert server.url.drivername in ("postgresql+asyncpg", "mysql+aiomysql")
        assert server.url.password
        assert asyncio.run(_select_one(server.url)) == 1

        progress = ctx.progress
        assert isinstance(progress, Progress)
        # The core prints the ready line; the launcher only names what is unusual.
        assert not [line for line in progress if "ready" in line or " up in " in line]
        assert image in server.description
        assert str(server.url.password) not in "".join(progress) + server.description

        found = docker_client.containers.list(
            filters={"label": [f"{_docker.LABEL_RUN_ID}={ctx.run_id}"]}
        )
        assert len(found) == 1
        container = found[0]
        labels = container.labels
        assert labels[_docker.LABEL] == "1"
        assert labels[_docker.LABEL_BACKEND] == backend_name
        assert labels[_docker.LABEL_OWNER_PID] == str(os.getpid())
        assert labels[_docker.LABEL_OWNER_HOST] == socket.gethostname()
        bindings = container.attrs["HostConfig"]["PortBindings"]
        assert [b["HostIp"] for binding in bindings.values() for b in binding] == ["127.0.0.1"]
    finally:
        server.stop()

    assert not docker_client.containers.list(
        all=True, filters={"label": [f"{_docker.LABEL_RUN_ID}={ctx.run_id}"]}
    )
    server.stop()  # a second stop is harmless


@pytest.mark.docker
def test_sweep_removes_only_this_hosts_containers_whose_owner_died(docker_client: Any) -> None:
    # Any image that is here and has `sleep` will do: the lane's, or a default one.
    image = None
    for backend_name in ("postgresql", "mysql"):
        variable = f"HARNESS_{backend_name.upper()}_IMAGE"
        candidate = os.environ.get(variable) or containers.DEFAULT_IMAGES[backend_name]
        if docker_client.images.list(name=candidate):
            image = candidate
            break
    if image is None:
        pytest.skip("no backend image is present to run a stand-in container from")

    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = dead.stdout.strip()  # that process has exited
    host = socket.gethostname()
    owners = {
        "dead-here": (dead_pid, host),
        "alive-here": (str(os.getpid()), host),
        "dead-elsewhere": (dead_pid, f"not-{host}"),
    }
    made = {}
    try:
        for role, (pid, owner_host) in owners.items():
            made[role] = docker_client.containers.run(
                image,
                ["sleep", "120"],
                detach=True,
                labels={
                    _docker.LABEL: "1",
                    _docker.LABEL_OWNER_PID: pid,
                    _docker.LABEL_OWNER_HOST: owner_host,
                    _docker.LABEL_RUN_ID: f"sweep-test-{role}",
                },
            )
        removed = _docker.sweep_leftovers(docker_client)
        assert made["dead-here"].name in removed
        assert made["alive-here"].name not in removed
        assert made["dead-elsewhere"].name not in removed
        remaining = {c.id for c in docker_client.containers.list(all=True)}
        assert made["dead-here"].id not in remaining
        assert made["alive-here"].id in remaining
    finally:
        for container in made.values():
            with contextlib.suppress(Exception):  # already swept
                container.remove(force=True, v=True)


@pytest.mark.docker
def test_a_missing_image_that_cannot_be_pulled_says_how_to_choose_another(
    docker_client: Any, tmp_path: Path
) -> None:
    pytest.importorskip("testcontainers", reason="testcontainers is not installed")
    # The reserved .invalid domain never resolves: the pull fails without a registry.
    ctx = make_ctx(tmp_path, image="no-such-host.invalid/harness/missing:never")
    with pytest.raises(ServerError) as excinfo:
        ContainersLauncher().start(BACKENDS["mysql"], ctx)
    message = str(excinfo.value)
    assert "is not here and could not be pulled" in message
    assert "--harness-image mysql=IMAGE" in message
    assert "HARNESS_MYSQL_IMAGE" in message
    assert not docker_client.containers.list(
        all=True, filters={"label": [f"{_docker.LABEL_RUN_ID}={ctx.run_id}"]}
    )


@pytest.mark.docker
def test_stop_is_quiet_when_the_container_was_removed_behind_its_back(
    docker_client: Any, tmp_path: Path
) -> None:
    pytest.importorskip("testcontainers", reason="testcontainers is not installed")
    image = _image_or_skip(docker_client, "mysql")
    ctx = make_ctx(tmp_path, image=image)
    server = ContainersLauncher().start(BACKENDS["mysql"], ctx)
    (container,) = docker_client.containers.list(
        filters={"label": [f"{_docker.LABEL_RUN_ID}={ctx.run_id}"]}
    )
    container.remove(force=True, v=True)  # `docker rm -f`, or the reaper
    server.stop()
