"""The ``local`` launcher for PostgreSQL: initdb and postgres from the installed binaries."""

from __future__ import annotations

import dataclasses
import re
import signal
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from harness.launchers._local import (
    LocalLauncher,
    LocalServerProcess,
    find_executable,
    glob_dirs,
    tool_output,
)
from harness.launchers._local_state import make_account_dir, write_private_file
from harness.launchers.base import LauncherUnavailable
from harness.registry import Registry

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

#: where PostgreSQL's server binaries usually are when they are not on PATH, best first
_USUAL_BINDIRS = (
    "/usr/lib/postgresql/*/bin",  # Debian, Ubuntu
    "/usr/pgsql-*/bin",  # the PostgreSQL project's RPMs
    "/opt/homebrew/opt/postgresql@*/bin",  # Homebrew on Apple silicon
    "/opt/homebrew/opt/postgresql/bin",
    "/usr/local/opt/postgresql@*/bin",  # Homebrew on Intel
    "/usr/local/opt/postgresql/bin",
    "/usr/local/pgsql/bin",  # built from source
)
_TOOLS = ("initdb", "postgres")
#: unix socket paths longer than this do not fit in sockaddr_un (104 bytes on macOS)
_MAX_SOCKET_PATH = 100

#: settings for a throwaway test server: durability off (the data dies with the session)
_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "logging_collector": "off",
    "unix_socket_permissions": "0700",
}

_INSTALL_HINT = (
    "install the PostgreSQL server (apt-get install postgresql, dnf install postgresql-server, "
    "brew install postgresql@16) or put its bin directory (the one with initdb) on PATH"
)


@dataclasses.dataclass(frozen=True)
class PostgreSQLBinaries:
    """A PostgreSQL installation: the directory with initdb, postgres and pg_ctl."""

    bindir: Path

    @property
    def version(self) -> str:
        """The version, e.g. ``"15.8"``, from ``postgres --version``."""
        out = tool_output([self.bindir / "postgres", "--version"])
        match = re.search(r"\(PostgreSQL\)\s+(\S+)", out)
        return match.group(1) if match else "unknown version"


def find_bindir() -> Path | None:
    """The bin directory of the PostgreSQL server: PATH, ``pg_config --bindir``, usual places."""
    on_path = find_executable(["initdb"], [])
    candidates = [on_path.parent] if on_path else []
    pg_config = find_executable(["pg_config"], [])
    if pg_config is not None:
        bindir = tool_output([pg_config, "--bindir"])
        if bindir:
            candidates.append(Path(bindir))
    candidates.extend(glob_dirs(_USUAL_BINDIRS))
    for candidate in candidates:
        if all((candidate / tool).is_file() for tool in _TOOLS):
            return candidate
    return None


class LocalPostgreSQLLauncher(LocalLauncher[PostgreSQLBinaries]):
    """Starts a private PostgreSQL cluster: initdb into a temp dir, then postgres on 127.0.0.1."""

    backends: ClassVar[tuple[str, ...]] = ("postgresql",)
    # SIGINT is PostgreSQL's "fast" shutdown: it does not wait for clients to disconnect.
    stop_signal: ClassVar[int] = int(signal.SIGINT)

    def find(self) -> PostgreSQLBinaries:
        bindir = find_bindir()
        if bindir is None:
            raise LauncherUnavailable(
                "PostgreSQL server binaries (initdb, postgres) not found on PATH, via "
                f"pg_config or in the usual places: {_INSTALL_HINT}"
            )
        return PostgreSQLBinaries(bindir)

    def initialize(
        self, found: PostgreSQLBinaries, server: LocalServerProcess, password: str
    ) -> None:
        """initdb with a random superuser password, then settings for a fast test server."""
        data = make_account_dir(server.directory / "data", server.account)
        run = make_account_dir(server.directory / "run", server.account)
        pwfile = write_private_file(run / "pwfile", password + "\n", server.account)
        try:
            server.run_tool(
                [
                    found.bindir / "initdb",
                    f"--pgdata={data}",
                    "--username=postgres",
                    f"--pwfile={pwfile}",
                    "--auth=scram-sha-256",
                    "--encoding=UTF8",
                    # Byte-order collation: the same results on every OS, no locale needed.
                    "--locale=C",
                    # The cluster dies with the session: no point in waiting for fsync.
                    "--no-sync",
                ],
                "initdb",
            )
        finally:
            pwfile.unlink(missing_ok=True)
        settings = dict(_SETTINGS)
        # No unix socket when its path would be too long; TCP on 127.0.0.1 is enough.
        fits = len(str(run / ".s.PGSQL.65535")) <= _MAX_SOCKET_PATH
        settings["unix_socket_directories"] = f"'{run}'" if fits else "''"
        with open(data / "postgresql.conf", "a") as conf:
            conf.write("\n# pytest-harness: a throwaway test server\n")
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())

    def server_argv(
        self, found: PostgreSQLBinaries, server: LocalServerProcess, port: int
    ) -> list[str]:
        # postgres itself rather than pg_ctl: it is our child, so its PID is known (and
        # recorded for the watchdog) the moment it exists, not once pg_ctl says it is up.
        return [
            str(found.bindir / "postgres"),
            "-D",
            str(server.directory / "data"),
            "-p",
            str(port),
        ]

    def is_ready(
        self, found: PostgreSQLBinaries, server: LocalServerProcess, port: int, password: str
    ) -> bool:
        """Ready when postmaster.pid says so: what ``pg_ctl -w`` waits for too."""
        try:
            lines = (server.directory / "data" / "postmaster.pid").read_text().splitlines()
        except OSError:
            return False
        # Line 4 is the port, line 8 the status (PostgreSQL 10 and later).
        return len(lines) >= 8 and lines[3].strip() == str(port) and lines[7].strip() == "ready"

    def server_binary(self, found: PostgreSQLBinaries) -> Path:
        return found.bindir / "postgres"

    def server_info(self, found: PostgreSQLBinaries, port: int, password: str) -> tuple[URL, str]:
        from sqlalchemy.engine import URL

        url = URL.create(
            "postgresql+asyncpg",
            username="postgres",
            password=password,
            host="127.0.0.1",
            port=port,
            database="postgres",
        )
        description = f"local {found.bindir} (PostgreSQL {found.version}), 127.0.0.1:{port}"
        return url, description


def register(registry: Registry) -> None:
    """Register the ``local`` launcher for PostgreSQL."""
    registry.register(LocalPostgreSQLLauncher())
