"""Configuration as a user meets it: precedence in the header, bad values, missing keys."""

from __future__ import annotations

import pytest

BASE_INI = "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"


def test_header_shows_each_value_and_where_it_came_from(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("HARNESS_LAUNCHER", "local")
    monkeypatch.setenv("HARNESS_BACKENDS", "mysql")  # the command line wins over this
    project.makepyfile("def test_x(): pass")
    result = project.runpytest(
        "--harness-backends=sqlite", "--harness-url", "postgresql=postgresql://me:s3cret@db:5432/"
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "harness: backends sqlite (--harness-backends); launcher local (env HARNESS_LAUNCHER)",
            "harness: url postgresql = postgresql://me:***@db:5432/ (--harness-url)",
            "harness: app myapp:app (its own sessions redirected to each test's transaction); "
            "schema create_all myapp:metadata",
        ]
    )
    assert "s3cret" not in result.stdout.str()


def test_ini_value_is_used_when_nothing_else_is_given(project: pytest.Pytester):
    project.makepyfile("def test_x(db_backend): pass")
    project.makefile(
        ".ini",
        pytest=BASE_INI + "harness_backends = sqlite\nharness_launcher = local\n",
    )
    result = project.runpytest("-v")
    result.stdout.fnmatch_lines(
        ["harness: backends sqlite (ini harness_backends); launcher local (ini harness_launcher)"]
    )
    result.assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--harness-backends=oracle"],
            "ERROR: harness: --harness-backends: unknown backend 'oracle'; valid backends: "
            "sqlite, postgresql, mysql (comma-separated) or 'all'",
        ),
        (
            ["--harness-launcher=vagrant"],
            "ERROR: harness: --harness-launcher: unknown launcher 'vagrant'; valid launchers: "
            "auto, containers, local, external*",
        ),
        (["--harness-url", "postgresql"], "ERROR: harness: --harness-url takes BACKEND=VALUE*"),
    ],
)
def test_bad_values_are_usage_errors_listing_valid_ones(project, args, message):
    project.makepyfile("def test_x(): pass")
    result = project.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    assert "Traceback" not in result.stderr.str()


def test_bad_value_from_the_environment_names_the_variable(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("HARNESS_BACKENDS", "sqlite,db2")
    project.makepyfile("def test_x(): pass")
    result = project.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: harness: env HARNESS_BACKENDS: unknown backend 'db2'*"])


def test_missing_harness_app_fails_with_an_instruction(project: pytest.Pytester):
    project.makefile(
        ".ini",
        pytest=BASE_INI + "",
    )
    project.makepyfile("async def test_x(client): pass")
    result = project.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*the app fixture needs to know your app: set harness_app =*"])
    assert "AttributeError" not in result.stdout.str()


def test_harness_app_that_does_not_import(project: pytest.Pytester):
    project.makefile(
        ".ini",
        pytest=BASE_INI + "harness_app = nowhere.main:app\n"
        "harness_session_dependency = myapp:get_session\n",
    )
    project.makepyfile("async def test_x(client): pass")
    result = project.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*harness_app = 'nowhere.main:app': cannot import module*"])


def test_app_factory_is_accepted(project: pytest.Pytester):
    project.makefile(
        ".ini",
        pytest=BASE_INI + "harness_app = myapp:create_app\n"
        "harness_session_dependency = myapp:get_session\nharness_metadata = myapp:metadata\n",
    )
    project.makepyfile(
        """
        async def test_x(client):
            assert (await client.post("/items/a")).status_code == 201
            assert (await client.get("/count")).json() == 1
        """
    )
    project.runpytest().assert_outcomes(passed=1)


def test_backend_with_no_way_to_get_a_server_names_all_three(project: pytest.Pytester):
    project.makeconftest(
        """
        from harness.backends.postgresql import PostgreSQLBackend

        class Exotic(PostgreSQLBackend):
            name = "exotic"

        def pytest_harness_register(registry):
            registry.register(Exotic())
        """
    )
    project.makepyfile("def test_x(db_backend): pass")
    result = project.runpytest("--harness-backends=exotic")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: harness: no way to get a exotic server here. Tried:",
            "*external: no URL given (--harness-url exotic=URL, or HARNESS_EXOTIC_URL)",
            "Start Docker, install the exotic server binaries, or give a URL*",
        ]
    )


def test_a_launcher_registered_from_a_conftest_is_used(project: pytest.Pytester):
    project.makeconftest(
        """
        from harness import LauncherUnavailable

        class Refusing:
            kind = "launcher"
            name = "local"
            backends = ("postgresql",)

            def unavailable_reason(self, backend, ctx):
                return "the lab's server is down for maintenance"

            def start(self, backend, ctx):
                raise LauncherUnavailable("unreachable")

        def pytest_harness_register(registry):
            registry.register(Refusing())
        """
    )
    project.makepyfile("def test_x(db_backend): pass")
    result = project.runpytest("--harness-backends=postgresql", "--harness-launcher=local")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: harness: postgresql via local: the lab's server is down for maintenance"]
    )


def test_no_server_is_started_for_collect_only(project: pytest.Pytester):
    project.makepyfile("def test_x(db_backend): pass")
    result = project.runpytest("--collect-only", "--harness-backends=postgresql")
    assert result.ret == 0
    assert "ready in" not in result.stdout.str()


def test_auto_falls_back_loudly_when_a_launcher_fails_to_start(project: pytest.Pytester):
    project.makeconftest(
        """
        from harness import Server
        from harness.backends.sqlite import SQLiteBackend
        from harness.errors import ServerError

        class FileServer(SQLiteBackend):
            # An embedded database dressed as a server, so launchers are involved.
            name = "fileserver"
            needs_server = True

            def database_url(self, server_url, database):
                return server_url

        class NoImage:
            kind = "launcher"
            name = "containers"
            backends = ("fileserver",)

            def unavailable_reason(self, backend, ctx):
                return None

            def start(self, backend, ctx):
                raise ServerError("the image 'db:1' is not here and could not be pulled")

        class Local:
            kind = "launcher"
            name = "local"
            backends = ("fileserver",)

            def unavailable_reason(self, backend, ctx):
                return None

            def start(self, backend, ctx):
                return Server(
                    url=backend.embedded_url(ctx.workdir), launcher="local", description="file"
                )

        def pytest_harness_register(registry):
            registry.register(FileServer())
            registry.register(NoImage())
            registry.register(Local())
        """
    )
    project.makepyfile("def test_x(db_backend): assert db_backend.launcher == 'local'")
    result = project.runpytest("--harness-backends=fileserver")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "harness: fileserver via containers failed (the image 'db:1' is not here and could "
            "not be pulled); trying local",
            "harness: fileserver ready in *s via local (SQLite *)",
        ]
    )
