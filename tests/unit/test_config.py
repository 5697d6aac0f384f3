"""Configuration precedence and validation, without running pytest."""

from __future__ import annotations

import pytest

from harness.config import Sources, parse_backends, resolve
from harness.errors import ConfigError

KNOWN = ["sqlite", "postgresql", "mysql"]
LAUNCHERS = ["containers", "external", "local"]


def make(cli=None, env=None, ini=None):
    ini = ini or {}
    return resolve(
        Sources(cli=cli or {}, env=env or {}, ini=lambda key: ini.get(key)),
        backends=KNOWN,
        launchers=LAUNCHERS,
    )


def test_defaults():
    cfg = make()
    assert cfg.backends == ("sqlite",)
    assert cfg.launcher == "auto"
    assert cfg.origin["backends"] == "default"


def test_cli_beats_env_beats_ini():
    ini = {"harness_backends": "mysql", "harness_launcher": "local"}
    env = {"HARNESS_BACKENDS": "postgresql"}
    assert make(ini=ini).backends == ("mysql",)
    assert make(env=env, ini=ini).backends == ("postgresql",)
    cfg = make(cli={"harness_backends": "sqlite,mysql"}, env=env, ini=ini)
    assert cfg.backends == ("sqlite", "mysql")
    assert cfg.origin["backends"] == "--harness-backends"
    assert cfg.launcher == "local"
    assert cfg.origin["launcher"] == "ini harness_launcher"


def test_all_expands_in_registry_order():
    assert make(cli={"harness_backends": "all"}).backends == tuple(KNOWN)


def test_repeats_and_case_are_normalised():
    assert parse_backends(" SQLite , sqlite,mysql ", KNOWN) == ("sqlite", "mysql")


@pytest.mark.parametrize("value", ["oracle", "sqlite,nope", ",", "all,sqlite"])
def test_bad_backend_lists_the_valid_ones(value):
    with pytest.raises(ConfigError, match="sqlite, postgresql, mysql") as info:
        make(env={"HARNESS_BACKENDS": value})
    assert "env HARNESS_BACKENDS" in str(info.value)


def test_bad_launcher_lists_the_valid_ones():
    with pytest.raises(ConfigError, match="auto, containers, local, external"):
        make(cli={"harness_launcher": "kubernetes"})


def test_per_backend_options_from_each_place():
    cfg = make(
        cli={"harness_url": ["postgresql=postgresql://u:p@h/db"]},
        env={"HARNESS_MYSQL_URL": "mysql://u:p@h/"},
        ini={"harness_image_postgresql": "pg:15", "harness_url_mysql": "mysql://ignored/"},
    )
    assert cfg.options_for("postgresql") == {"url": "postgresql://u:p@h/db", "image": "pg:15"}
    assert cfg.options_for("mysql") == {"url": "mysql://u:p@h/"}
    assert cfg.origin["url_mysql"] == "env HARNESS_MYSQL_URL"
    assert cfg.origin["image_postgresql"] == "ini harness_image_postgresql"


@pytest.mark.parametrize("raw", ["postgresql", "postgresql=", "oracle=x://"])
def test_bad_url_pairs(raw):
    with pytest.raises(ConfigError, match="--harness-url"):
        make(cli={"harness_url": [raw]})


def test_session_dependencies_are_a_comma_list():
    cfg = make(ini={"harness_session_dependency": "a.b:get, c.d:get_other"})
    assert cfg.session_dependencies == ("a.b:get", "c.d:get_other")


def test_reuse_from_each_place_and_drop():
    assert not make().reuse
    assert not make().reuse_drop
    cfg = make(cli={"harness_reuse": True})
    assert cfg.reuse
    assert cfg.origin["reuse"] == "--harness-reuse"
    assert make(env={"HARNESS_REUSE": "1"}).reuse
    assert make(ini={"harness_reuse": "true"}).origin["reuse"] == "ini harness_reuse"
    assert not make(env={"HARNESS_REUSE": "0"}, ini={"harness_reuse": "true"}).reuse
    dropped = make(env={"HARNESS_REUSE": "drop"})
    assert dropped.reuse_drop
    assert not dropped.reuse
    both = make(cli={"harness_reuse": True, "harness_reuse_drop": True})
    assert both.reuse
    assert both.reuse_drop
    with pytest.raises(ConfigError, match="env HARNESS_REUSE: expected true or false"):
        make(env={"HARNESS_REUSE": "sometimes"})
