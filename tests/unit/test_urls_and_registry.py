"""External URLs, error text that never shows a password, and the registry."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url

from harness.backends.mysql import MySQLBackend
from harness.backends.postgresql import PostgreSQLBackend
from harness.errors import ConfigError
from harness.launchers.external import parse_server_url
from harness.registry import Registry, default_registry
from harness.run.provision import describe_error


def test_bare_scheme_gets_the_async_driver():
    url = parse_server_url(PostgreSQLBackend(), "postgresql://u:secret@db:5433/x")
    assert url.drivername == "postgresql+asyncpg"
    assert url.port == 5433
    assert parse_server_url(MySQLBackend(), "mariadb://u@db/").drivername == "mariadb+aiomysql"


def test_url_for_the_wrong_backend_is_refused():
    with pytest.raises(ConfigError, match="give a postgresql:// URL"):
        parse_server_url(PostgreSQLBackend(), "mysql://u:p@h/")
    with pytest.raises(ConfigError, match="not a database URL"):
        parse_server_url(PostgreSQLBackend(), "not a url")


def test_driver_errors_never_echo_the_password():
    url = make_url("postgresql+asyncpg://u:hunter2@h/db")
    text = describe_error(RuntimeError("login hunter2 failed"), url)
    assert "hunter2" not in text
    assert "***" in text


def test_mysql_database_url_forces_utf8mb4():
    url = MySQLBackend().database_url(make_url("mysql+aiomysql://u:p@h:3306/"), "harness_1")
    assert url.database == "harness_1"
    assert url.query["charset"] == "utf8mb4"


def test_builtins_are_registered():
    registry = default_registry(load_entry_points=False)
    assert {"sqlite", "postgresql", "mysql"} <= set(registry.backends)
    assert registry.launcher("external", "postgresql") is not None
    assert [launcher.name for launcher in registry.launchers_for("postgresql")][-1] == "external"


def test_register_refuses_what_is_neither_kind():
    with pytest.raises(TypeError, match=r"harness\.Backend"):
        Registry().register(object())  # type: ignore[arg-type]
