"""The ``local`` launchers start real PostgreSQL and MariaDB/MySQL servers and remove them."""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from harness.backends.base import Backend
from harness.backends.mysql import MySQLBackend
from harness.backends.postgresql import PostgreSQLBackend
from harness.builtins import default_registry
from harness.errors import ServerError
from harness.launchers import _local
from harness.launchers._local import LocalServerProcess
from harness.launchers._local_state import read_state
from harness.launchers.base import LaunchContext, Launcher, LauncherUnavailable, Server
from harness.launchers.local_mysql import LocalMySQLLauncher
from harness.launchers.local_postgresql import LocalPostgreSQLLauncher

PAIRS: dict[str, tuple[Launcher, Backend]] = {
    "postgresql": (LocalPostgreSQLLauncher(), PostgreSQLBackend()),
    "mysql": (LocalMySQLLauncher(), MySQLBackend()),
}


class Progress(list[str]):
    """Collects what a launcher prints."""

    def __call__(self, line: str) -> None:
        self.append(line)


@pytest.fixture
def progress() -> Progress:
    return Progress()


@pytest.fixture
def ctx(tmp_path: Path, progress: Progress) -> LaunchContext:
    return LaunchContext(workdir=tmp_path, options={}, progress=progress, run_id="unit")


@pytest.fixture(params=sorted(PAIRS))
def pair(request: pytest.FixtureRequest, ctx: LaunchContext) -> tuple[Launcher, Backend]:
    launcher, backend = PAIRS[request.param]
    reason = launcher.unavailable_reason(backend, ctx)
    if reason is not None:
        pytest.skip(reason)
    return launcher, backend


@pytest.fixture
def started(
    pair: tuple[Launcher, Backend], ctx: LaunchContext
) -> Iterator[tuple[Server, LocalServerProcess]]:
    launcher, backend = pair
    server = launcher.start(backend, ctx)
    process = server.stop.__self__  # type: ignore[attr-defined]
    assert isinstance(process, LocalServerProcess)
    yield server, process
    server.stop()


def listening_addresses(port: int) -> set[str]:
    """The local addresses with a TCP socket listening on *port* (Linux /proc/net)."""
    found = set()
    for table, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            address, port_hex = fields[1].split(":")
            if fields[3] == "0A" and int(port_hex, 16) == port:  # 0A: LISTEN
                raw = bytes.fromhex(address)
                # /proc prints each 32-bit word in host (little-endian) order.
                words = [raw[i : i + 4][::-1] for i in range(0, len(raw), 4)]
                found.add(socket.inet_ntop(family, b"".join(words)))
    return found


def test_both_are_registered_as_local() -> None:
    registry = default_registry(load_entry_points=False)
    for name, (launcher, _) in PAIRS.items():
        assert isinstance(launcher, Launcher)
        assert type(registry.launcher("local", name)) is type(launcher)


async def test_start_connect_stop(
    started: tuple[Server, LocalServerProcess], progress: Progress
) -> None:
    server, process = started
    url = server.url
    password = url.password
    assert password
    assert url.host == "127.0.0.1"
    assert server.launcher == "local"
    assert server.owned
    assert f"127.0.0.1:{url.port}" in server.description
    # The core prints the one ready line per backend; a successful start says nothing more.
    assert progress == []
    assert password not in server.description

    if sys.platform == "linux":
        assert url.port is not None
        assert listening_addresses(url.port) == {"127.0.0.1"}

    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT 1"))).scalar_one() == 1
    finally:
        await engine.dispose()

    state = read_state(process.directory)
    assert state is not None
    assert state.server is not None
    assert state.server.is_running()
    assert state.watchdog is not None
    assert state.watchdog.is_running()
    secrets_left = [
        p.name for p in process.directory.rglob("*") if p.name in {"pwfile", "init.sql"}
    ]
    assert secrets_left == []

    server.stop()
    assert not process.directory.exists()
    assert not state.server.is_running()
    assert not state.watchdog.is_running()
    server.stop()  # idempotent


def test_port_taken_fails_cleanly(
    pair: tuple[Launcher, Backend],
    ctx: LaunchContext,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A port someone else holds: ServerError quoting the log, nothing left behind."""
    launcher, backend = pair
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        monkeypatch.setattr(_local, "free_port", lambda: port)
        created: list[LocalServerProcess] = []
        original_init = LocalServerProcess.__init__

        def recording_init(self: LocalServerProcess, *args: object) -> None:
            original_init(self, *args)  # type: ignore[arg-type]
            created.append(self)

        monkeypatch.setattr(LocalServerProcess, "__init__", recording_init)
        with pytest.raises(ServerError, match="Address already in use") as info:
            launcher.start(backend, ctx)
    assert "last lines of the server log" in str(info.value)
    [process] = created
    assert not process.directory.exists()
    assert process.state.server is None
    assert process.state.watchdog is not None
    assert not process.state.watchdog.is_running()


@pytest.mark.parametrize(
    ("name", "hint"),
    [("postgresql", "apt-get install postgresql"), ("mysql", "apt-get install mariadb-server")],
)
def test_missing_binaries_say_what_to_install(
    name: str,
    hint: str,
    ctx: LaunchContext,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    launcher, backend = PAIRS[name]
    module = sys.modules[type(launcher).__module__]
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(module, "glob_dirs", lambda patterns: [])
    reason = launcher.unavailable_reason(backend, ctx)
    assert reason is not None
    assert hint in reason
    assert "brew install" in reason
    with pytest.raises(LauncherUnavailable, match=hint):
        launcher.start(backend, ctx)
