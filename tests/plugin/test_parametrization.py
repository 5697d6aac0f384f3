"""Which tests run on which backends, and under which ids."""

from __future__ import annotations

import pytest

TESTS = """
async def test_db(db_session):
    pass

def test_backend_name(db_backend):
    assert db_backend.name in ("sqlite", "sqlite2")

def test_plain():
    pass
"""


def test_each_db_test_runs_once_per_backend_plain_tests_once(two_backends: pytest.Pytester):
    two_backends.makepyfile(TESTS)
    result = two_backends.runpytest("-v", "--harness-backends=sqlite,sqlite2")
    result.assert_outcomes(passed=5)
    # Tests are grouped by backend (each backend's engine is set up once), so match one by one.
    for line in (
        "*::test_db?sqlite? PASSED*",
        "*::test_db?sqlite2? PASSED*",
        "*::test_backend_name?sqlite? PASSED*",
        "*::test_backend_name?sqlite2? PASSED*",
    ):
        result.stdout.fnmatch_lines([line])
    result.stdout.fnmatch_lines(["*::test_plain PASSED*"])
    assert "test_plain[" not in result.stdout.str()


def test_default_backend_is_sqlite(project: pytest.Pytester):
    project.makepyfile(TESTS)
    result = project.runpytest("-v")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*harness: backends sqlite (default); launcher auto (default)*"])


def test_indirect_use_through_a_user_fixture_parametrizes(two_backends: pytest.Pytester):
    two_backends.makepyfile(
        """
        import pytest_asyncio
        from sqlalchemy import insert
        from myapp import items

        @pytest_asyncio.fixture
        async def one_item(db_session):
            await db_session.execute(insert(items).values(name="seed"))
            return "seed"

        async def test_uses_it(one_item, client):
            assert (await client.get("/count")).json() == 1
        """
    )
    result = two_backends.runpytest("-v", "--harness-backends=sqlite,sqlite2")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*test_uses_it?sqlite? PASSED*", "*test_uses_it?sqlite2? PASSED*"])


def test_marker_restricts_and_says_why(two_backends: pytest.Pytester):
    two_backends.makepyfile(
        """
        import pytest

        @pytest.mark.harness_backends("sqlite2")
        async def test_only_second(db_backend):
            assert db_backend.name == "sqlite2"
        """
    )
    result = two_backends.runpytest("-rs", "--harness-backends=sqlite,sqlite2")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*harness_backends('sqlite2') excludes sqlite*"])


def test_marker_with_an_unknown_backend_is_a_usage_error(project: pytest.Pytester):
    project.makepyfile(
        """
        import pytest

        @pytest.mark.harness_backends("oracle")
        def test_x(db_backend):
            pass
        """
    )
    result = project.runpytest()
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*harness_backends needs backend names from*'oracle'*"])


def test_strict_mode_with_marked_tests(project: pytest.Pytester):
    project.makepyfile(
        """
        import pytest

        @pytest.mark.asyncio
        async def test_one(client):
            assert (await client.post("/items/a")).status_code == 201

        @pytest.mark.asyncio
        async def test_two(client):
            assert (await client.get("/count")).json() == 0
        """
    )
    result = project.runpytest("-o", "asyncio_mode=strict")
    result.assert_outcomes(passed=2)


def test_explicit_conflicting_loop_scope_is_explained(project: pytest.Pytester):
    project.makepyfile(
        """
        import pytest

        @pytest.mark.asyncio(loop_scope="function")
        async def test_one(db_session):
            pass
        """
    )
    result = project.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*loop_scope='function'*the session loop*"])
