"""Bad input gets one actionable line: no INTERNALERROR, no traceback from a library."""

from __future__ import annotations

import pytest

from tests.wiring.conftest import Shape
from tests.wiring.test_shapes import SESSION_DEPENDENCY

TEST = """
async def test_one(db_session):
    pass
"""


@pytest.mark.parametrize(
    ("url", "said"),
    [
        (
            "postgresql://u:secret@127.0.0.1:54x2/",
            "the URL given for postgresql is not a database URL (expected e.g. "
            "postgresql://user:password@host:port/, the port a number)",
        ),
        (
            "postgresql+psycopg2://u:secret@127.0.0.1:5432/",
            "the URL given for postgresql names 'psycopg2', a sync driver; the harness needs an "
            "async one: e.g. postgresql+asyncpg",
        ),
        (
            "postgresql+nosuch://u:secret@127.0.0.1:5432/",
            "the URL given for postgresql names the driver 'nosuch', which SQLAlchemy does not "
            "know; use e.g. postgresql+asyncpg",
        ),
    ],
)
def test_a_bad_server_url_is_one_line(project: pytest.Pytester, url: str, said: str) -> None:
    project.makepyfile(TEST)
    result = project.runpytest(
        "--harness-backends=postgresql", "--harness-url", f"postgresql={url}"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: harness: {said}"])
    everything = result.stdout.str() + result.stderr.str()
    assert "INTERNALERROR" not in everything
    assert "Traceback" not in everything
    assert "secret" not in everything


def test_a_marker_naming_an_unknown_backend_is_one_line(project: pytest.Pytester) -> None:
    project.makepyfile(
        """
        import pytest

        @pytest.mark.harness_backends("nosuch")
        async def test_one(db_session):
            pass
        """
    )
    result = project.runpytest()
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        [
            "test_a_marker_naming_an_unknown_backend_is_one_line.py::test_one: "
            "@pytest.mark.harness_backends needs backend names from *; got 'nosuch'"
        ]
    )
    assert "Traceback" not in result.stdout.str()
    assert "raise " not in result.stdout.str()


def test_a_password_of_a_few_letters_is_masked_without_garbling_the_message() -> None:
    from harness.errors import mask

    assert mask("OperationalError: password p rejected", "p") == (
        "OperationalError: password *** rejected"
    )
    assert mask("login as u with s3cr3t-long failed", "s3cr3t-long") == "login as u with *** failed"


@pytest.mark.parametrize("problem", ["owner", "mode"])
def test_a_temp_root_another_user_could_read_is_refused(
    project: pytest.Pytester,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    problem: str,
) -> None:
    import os

    tmp = tmp_path_factory.mktemp("tmpdir")
    shared = tmp / f"pytest-harness-{os.getuid()}"
    shared.mkdir(mode=0o700)
    if problem == "owner":
        if os.getuid() != 0:
            pytest.skip("needs root to give the directory to another user")
        os.chown(shared, 65534, 65534)
    else:
        shared.chmod(0o755)
    project.makepyfile(TEST)
    monkeypatch.setenv("TMPDIR", str(tmp))
    result = project.runpytest_subprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    said = (
        "belongs to another user (uid 65534)"
        if problem == "owner"
        else "can be read or written by other"
    )
    result.stderr.fnmatch_lines([f"ERROR: harness: {shared} {said}*"])
    assert list(shared.iterdir()) == []  # nothing was put there


def test_an_async_fixture_on_another_loop_is_a_usage_error(project: pytest.Pytester) -> None:
    project.makepyfile(
        """
        import pytest_asyncio

        @pytest_asyncio.fixture(loop_scope="function")
        async def seeded(db_session):
            return db_session

        async def test_one(seeded):
            pass
        """
    )
    result = project.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: test_an_async_fixture_on_another_loop_is_a_usage_error.py::"
            "test_one[[]sqlite[]]: the async fixture 'seeded' uses harness database fixtures "
            "but asks for loop_scope='function'*"
        ]
    )


def test_a_session_dependency_no_route_uses_is_said_once(shape: Shape) -> None:
    shape.write(
        (SESSION_DEPENDENCY, "async def not_used_by_any_route():\n    yield None\n"),
        """
async def test_one(client):
    assert (await client.post("/plain/a")).status_code == 201

async def test_two(client):
    assert (await client.post("/plain/b")).status_code == 201
""",
        ini_lines="harness_wiring = override\n"
        "harness_session_dependency = shapeapp:not_used_by_any_route\n",
    )
    result = shape.run()
    said = (
        "harness: harness_session_dependency 'shapeapp:not_used_by_any_route' is a dependency "
        "of none of the app's routes*"
    )
    result.stdout.fnmatch_lines([said])
    assert len([line for line in result.outlines if "is a dependency of none" in line]) == 1


def test_an_app_setting_naming_a_model_class_is_one_line(project: pytest.Pytester) -> None:
    project.makepyfile(
        settings="""
        from pydantic import BaseModel

        class Settings(BaseModel):
            database_url: str
        """
    )
    project.makepyfile(
        """
        async def test_one(client):
            pass
        """
    )
    result = project.runpytest("-o", "harness_app=settings:Settings")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "harness: harness_app = 'settings:Settings' is neither a FastAPI app nor a factory "
            "callable with no arguments (calling it raised ValidationError: 1 validation error*"
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_a_url_naming_a_driver_that_is_not_installed_is_one_line(project: pytest.Pytester) -> None:
    # asyncmy made unimportable for this run, as on a machine without it.
    project.mkpydir("asyncmy").joinpath("__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'asyncmy'\", name='asyncmy')\n"
    )
    project.makepyfile(TEST)
    result = project.runpytest_subprocess(
        "--harness-backends=mysql", "--harness-url", "mysql=mysql+asyncmy://u:secret@127.0.0.1/"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: harness: the URL given for mysql names the driver 'asyncmy', which is not "
            "installed (No module named 'asyncmy'): pip install asyncmy, or name another driver"
        ]
    )
    assert "secret" not in result.stdout.str() + result.stderr.str()
