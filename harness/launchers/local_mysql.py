"""The ``local`` launcher for MariaDB and MySQL: mariadbd or mysqld from the installed binaries."""

from __future__ import annotations

import dataclasses
import functools
import re
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

#: where the server binary usually is when it is not on PATH (it is often in an sbin)
_USUAL_SERVER_DIRS = (
    "/usr/sbin",  # Debian, Ubuntu, Fedora
    "/usr/libexec",  # RHEL, CentOS
    "/usr/local/mysql/bin",  # the vendors' tarballs and macOS packages
    "/usr/local/mariadb/bin",
    "/opt/homebrew/opt/mariadb*/bin",  # Homebrew on Apple silicon
    "/opt/homebrew/opt/mysql*/bin",
    "/usr/local/opt/mariadb*/bin",  # Homebrew on Intel
    "/usr/local/opt/mysql*/bin",
)
_SERVER_NAMES = ("mariadbd", "mysqld")
_INSTALL_DB_NAMES = ("mariadb-install-db", "mysql_install_db")

#: the admin account the harness creates, reachable over TCP from 127.0.0.1 only
ADMIN_USER = "root"

_INSTALL_HINT = (
    "install MariaDB or MySQL (apt-get install mariadb-server, dnf install mariadb-server, "
    "brew install mariadb) or put the directory of mariadbd/mysqld on PATH"
)


@dataclasses.dataclass(frozen=True)
class MySQLBinaries:
    """A MariaDB or MySQL installation: the server, its install step, what it is."""

    server: Path
    #: mariadb-install-db (MariaDB); None for MySQL 5.7+, which initializes itself
    install_db: Path | None
    product: str  # "MariaDB" or "MySQL"
    version: str

    @property
    def basedir(self) -> Path:
        """The installation prefix (/usr for /usr/sbin/mariadbd): install-db needs it."""
        return self.server.parent.parent


@functools.lru_cache(maxsize=8)
def _identify(server: Path) -> tuple[str, str]:
    """The product and version of *server*, from ``--version`` (cached: it never changes)."""
    out = tool_output([server, "--version"])
    match = re.search(r"Ver\s+(\d+(?:\.\d+)*)", out)
    version = match.group(1) if match else "unknown version"
    return ("MariaDB" if "mariadb" in out.lower() else "MySQL"), version


def _find_install_db(server: Path) -> Path | None:
    """MariaDB's install step: next to the server, in ../bin or ../scripts, or on PATH."""
    prefix = server.parent.parent
    return find_executable(
        _INSTALL_DB_NAMES, [server.parent, prefix / "bin", prefix / "scripts", Path("/usr/bin")]
    )


def find_binaries() -> MySQLBinaries:
    """Find mariadbd or mysqld and, for MariaDB, its install step; LauncherUnavailable if not."""
    server = find_executable(_SERVER_NAMES, glob_dirs(_USUAL_SERVER_DIRS))
    if server is None:
        raise LauncherUnavailable(
            f"no MariaDB/MySQL server (mariadbd, mysqld) on PATH or in the usual places: "
            f"{_INSTALL_HINT}"
        )
    product, version = _identify(server)
    install_db = _find_install_db(server) if product == "MariaDB" else None
    if product == "MariaDB" and install_db is None:
        raise LauncherUnavailable(
            f"found {server} but not mariadb-install-db next to it or on PATH: "
            "install the complete server package (apt-get install mariadb-server)"
        )
    return MySQLBinaries(server, install_db, product, version)


def _sql_string(value: str) -> str:
    """*value* as an SQL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def _admin_sql(password: str) -> str:
    """The init file: an admin with every privilege, reachable from 127.0.0.1 only.

    ALTER after CREATE IF NOT EXISTS: old install steps create root@127.0.0.1 with an
    empty password, and it must not stay that way.
    """
    account = f"{_sql_string(ADMIN_USER)}@'127.0.0.1'"
    return (
        f"CREATE USER IF NOT EXISTS {account} IDENTIFIED BY {_sql_string(password)};\n"
        f"ALTER USER {account} IDENTIFIED BY {_sql_string(password)};\n"
        f"GRANT ALL PRIVILEGES ON *.* TO {account} WITH GRANT OPTION;\n"
    )


class LocalMySQLLauncher(LocalLauncher[MySQLBinaries]):
    """Starts a private MariaDB (or MySQL) server in a temp dir, on 127.0.0.1."""

    backends: ClassVar[tuple[str, ...]] = ("mysql",)
    port_in_use_markers: ClassVar[tuple[str, ...]] = (
        "Address already in use",
        "Do you already have another",  # MySQL's and MariaDB's "server running on that port"
    )

    def find(self) -> MySQLBinaries:
        return find_binaries()

    def _options(self, found: MySQLBinaries, server: LocalServerProcess) -> list[str]:
        """Options for both the install step and the server (InnoDB sizes must agree)."""
        data, run = server.directory / "data", server.directory / "run"
        options = [
            f"--datadir={data}",
            f"--socket={run / 'mysqld.sock'}",
            f"--pid-file={run / 'mysqld.pid'}",
            f"--tmpdir={run}",
            "--skip-name-resolve",
            "--skip-log-bin",
            "--character-set-server=utf8mb4",
            "--collation-server=utf8mb4_unicode_ci",
            # The data dies with the session: no flushing at commit, small files.
            "--innodb-flush-log-at-trx-commit=0",
            "--innodb-buffer-pool-size=32M",
        ]
        if found.product == "MariaDB":
            options += ["--innodb-log-file-size=16M", "--innodb-doublewrite=0"]
        else:
            # MySQL's X protocol listens on all interfaces (port 33060) unless turned off.
            options += ["--mysqlx=OFF", "--performance-schema=OFF"]
        return options

    def initialize(self, found: MySQLBinaries, server: LocalServerProcess, password: str) -> None:
        """Create the system tables; the admin account comes from the init file at start."""
        make_account_dir(server.directory / "data", server.account)
        run = make_account_dir(server.directory / "run", server.account)
        # Read by the server at start, deleted once it is ready: the password is in it.
        write_private_file(run / "init.sql", _admin_sql(password), server.account)
        if found.install_db is not None:
            argv = [
                str(found.install_db),
                "--no-defaults",  # must come first
                f"--basedir={found.basedir}",
                "--auth-root-authentication-method=socket",
                "--skip-test-db",
                *self._options(found, server),
            ]
            server.run_tool(argv, found.install_db.name)
        else:
            argv = [
                str(found.server),
                "--no-defaults",
                "--initialize-insecure",
                f"--basedir={found.basedir}",
                *self._options(found, server),
            ]
            server.run_tool(argv, "mysqld --initialize-insecure")

    def server_argv(self, found: MySQLBinaries, server: LocalServerProcess, port: int) -> list[str]:
        # The servers run as ourselves, or as the unprivileged account when we are root,
        # so --user is never needed (and mysqld would refuse to run as root without it).
        return [
            str(found.server),
            "--no-defaults",  # must come first: no /etc/mysql/my.cnf, no ~/.my.cnf
            f"--basedir={found.basedir}",
            f"--port={port}",
            "--bind-address=127.0.0.1",
            f"--init-file={server.directory / 'run' / 'init.sql'}",
            *self._options(found, server),
        ]

    def is_ready(
        self, found: MySQLBinaries, server: LocalServerProcess, port: int, password: str
    ) -> bool:
        """Ready once the admin can log in over TCP; then the init file is deleted."""
        import pymysql  # lazily: it comes with aiomysql, which is optional

        try:
            conn = pymysql.connect(
                host="127.0.0.1",
                port=port,
                user=ADMIN_USER,
                password=password,
                # Bounded reads too: whatever else answers on the port must not hang us.
                connect_timeout=2,
                read_timeout=2,
                write_timeout=2,
            )
        except pymysql.err.MySQLError:
            return False
        conn.close()
        (server.directory / "run" / "init.sql").unlink(missing_ok=True)
        return True

    def server_binary(self, found: MySQLBinaries) -> Path:
        return found.server

    def server_info(self, found: MySQLBinaries, port: int, password: str) -> tuple[URL, str]:
        from sqlalchemy.engine import URL

        url = URL.create(
            "mysql+aiomysql",
            username=ADMIN_USER,
            password=password,
            host="127.0.0.1",
            port=port,
        )
        description = f"local {found.server} ({found.product} {found.version}), 127.0.0.1:{port}"
        return url, description


def register(registry: Registry) -> None:
    """Register the ``local`` launcher for MariaDB/MySQL."""
    registry.register(LocalMySQLLauncher())
