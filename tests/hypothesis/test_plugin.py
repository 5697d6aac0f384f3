"""Per-example isolation, the health check and the profiles, as an adopting project meets them."""

from __future__ import annotations

import re

import pytest

UNIQUE_THROUGH_THE_API = """
from hypothesis import given, strategies as st

@given(n=st.integers(min_value=0, max_value=1000))
async def test_same_name_every_example(client, n):
    assert (await client.get("/count")).json() == 0
    response = await client.post("/items/fixed")
    assert response.status_code == 201, response.text
    assert (await client.get("/count")).json() == 1
    print("EXAMPLE")
"""


def test_an_app_commit_in_one_example_is_gone_in_the_next(project: pytest.Pytester):
    project.makepyfile(UNIQUE_THROUGH_THE_API)
    result = project.runpytest("-s", "--harness-backends=sqlite")
    result.assert_outcomes(passed=1)
    # Many examples ran, each committing the same unique name through the API.
    assert result.stdout.str().count("EXAMPLE") > 10


def test_without_isolation_the_second_example_sees_the_first(project: pytest.Pytester):
    # The control: the same test with isolation turned off fails on the second example.
    project.makepyfile(
        "import pytest\n"
        "from hypothesis import HealthCheck, settings\n"
        + UNIQUE_THROUGH_THE_API.replace(
            "@given(",
            "@pytest.mark.harness_examples(isolate=False)\n"
            "@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])\n@given(",
        )
    )
    result = project.runpytest("--harness-backends=sqlite")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*assert 1 == 0*"])


def test_with_isolation_off_hypothesis_reports_the_shared_fixture(project: pytest.Pytester):
    project.makepyfile(
        """
        import pytest
        from hypothesis import given, strategies as st

        @pytest.mark.harness_examples(isolate=False)
        @given(st.integers())
        async def test_it(db_session, n):
            pass
        """
    )
    result = project.runpytest("--harness-backends=sqlite")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*FailedHealthCheck*function-scoped fixture 'db_session'*"])


def test_each_example_also_undoes_direct_session_writes(project: pytest.Pytester):
    project.makepyfile(
        """
        from hypothesis import given, strategies as st
        from sqlalchemy import func, insert, select
        from myapp import items

        @given(name=st.text(min_size=1, max_size=50))
        async def test_it(db_session, db_connection, name):
            assert (await db_session.execute(select(func.count()).select_from(items))).scalar() == 0
            await db_connection.execute(insert(items).values(name="direct"))
            await db_session.execute(insert(items).values(name=name + "!"))
        """
    )
    result = project.runpytest("--harness-backends=sqlite")
    result.assert_outcomes(passed=1)


def test_a_users_own_function_scoped_fixture_is_still_reported(project: pytest.Pytester):
    project.makepyfile(
        """
        import pytest
        from hypothesis import given, strategies as st

        @pytest.fixture
        def seen():
            return []

        @given(st.integers())
        async def test_it(client, seen, n):
            seen.append(n)
        """
    )
    result = project.runpytest("--harness-backends=sqlite")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*FailedHealthCheck*function-scoped fixture(s) 'seen'*"])
    assert "fixture 'client'" not in result.stdout.str()


def test_the_users_suppression_is_respected(project: pytest.Pytester):
    project.makepyfile(
        """
        import pytest
        from hypothesis import HealthCheck, given, settings, strategies as st

        @pytest.fixture
        def seen():
            return []

        @settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
        @given(st.integers())
        async def test_it(client, seen, n):
            seen.append(n)
            assert (await client.get("/count")).json() == 0
            assert (await client.post(f"/items/x{len(seen)}")).status_code == 201
        """
    )
    result = project.runpytest("--harness-backends=sqlite")
    result.assert_outcomes(passed=1)


def test_a_fixture_built_on_the_session_is_per_example_state(project: pytest.Pytester):
    project.makepyfile(
        """
        import pytest_asyncio
        from hypothesis import given, strategies as st

        @pytest_asyncio.fixture
        async def seeded(client):
            assert (await client.post("/items/seed")).status_code == 201
            return "seed"

        @given(name=st.sampled_from(["a", "b", "seed"]))
        async def test_it(client, seeded, name):
            assert (await client.get("/items")).json() == [seeded]
            await client.delete(f"/items/{seeded}")
            assert (await client.post(f"/items/{name}")).status_code == 201
        """
    )
    result = project.runpytest("--harness-backends=sqlite")
    result.assert_outcomes(passed=1)


def test_tests_that_do_not_use_the_connection_are_left_alone(project: pytest.Pytester):
    project.makepyfile(
        """
        from hypothesis import given, strategies as st

        @given(st.integers())
        def test_sync(db_backend, n):
            assert db_backend.name == "sqlite"

        @given(st.integers())
        async def test_async_no_db(n):
            pass

        @given(st.integers())
        def test_plain(n):
            pass
        """
    )
    result = project.runpytest("--harness-backends=sqlite")
    result.assert_outcomes(passed=3)


FAILING = """
from hypothesis import given, strategies as st

# Letters and digits only: the point is the report, not what a URL may contain.
@given(name=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=20))
async def test_names_are_short(client, name):
    assert (await client.post("/items/" + name.replace("/", "_"))).status_code == 201
    assert len(name) < 4
"""


def test_a_failure_prints_the_example_and_how_to_replay_it(project: pytest.Pytester):
    project.makepyfile(FAILING)
    first = project.runpytest("--harness-backends=sqlite")
    first.assert_outcomes(failed=1)
    # Hypothesis has worded the heading both ways across the supported versions.
    out = first.stdout.str()
    assert re.search(r"(Falsifying example|Failing test case): test_names_are_short\(", out)
    first.stdout.fnmatch_lines(["*name='0000',*", "*@reproduce_failure(*"])
    # Derandomized: the same example fails again, with the same replay blob.
    second = project.runpytest("--harness-backends=sqlite")
    blob = [line for line in first.outlines if "@reproduce_failure" in line]
    assert blob
    assert blob == [line for line in second.outlines if "@reproduce_failure" in line]


def test_the_ci_profile_is_the_default(project: pytest.Pytester):
    project.makepyfile(
        """
        from hypothesis import settings

        def test_profile():
            current = settings()
            assert settings.get_current_profile_name() == "harness-ci"
            assert current.derandomize and current.deadline is None and current.print_blob
            assert current.database is None and current.max_examples == 50
        """
    )
    result = project.runpytest("-v", "--harness-backends=sqlite")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*hypothesis profile 'harness-ci'*"])


def test_the_deep_profile_is_one_option_away(project: pytest.Pytester):
    project.makepyfile(
        """
        from hypothesis import settings

        def test_profile():
            current = settings()
            assert settings.get_current_profile_name() == "harness-deep"
            assert not current.derandomize and current.max_examples == 1000
            assert current.deadline is None and current.print_blob
        """
    )
    result = project.runpytest("--harness-backends=sqlite", "--hypothesis-profile=harness-deep")
    result.assert_outcomes(passed=1)


def test_a_profile_loaded_by_the_project_is_respected(project: pytest.Pytester):
    project.makeconftest(
        """
        from hypothesis import settings

        pytest_plugins = ["harness.hypothesis"]
        settings.register_profile("mine", max_examples=7)
        settings.load_profile("mine")
        """
    )
    project.makepyfile(
        """
        from hypothesis import settings

        def test_profile():
            assert settings.get_current_profile_name() == "mine"
        """
    )
    result = project.runpytest("--harness-backends=sqlite")
    result.assert_outcomes(passed=1)


def test_parametrized_arguments_are_not_fixtures_to_report(project: pytest.Pytester):
    project.makepyfile(
        """
        import pytest
        from hypothesis import given, strategies as st

        @pytest.mark.parametrize("label", ["x", "y"])
        @given(n=st.integers())
        async def test_it(db_session, label, n):
            pass
        """
    )
    result = project.runpytest("--harness-backends=sqlite")
    result.assert_outcomes(passed=2)
