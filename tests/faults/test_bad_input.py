"""Bad input gets one actionable line: no INTERNALERROR, no traceback from a library."""

from __future__ import annotations

import pytest

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
