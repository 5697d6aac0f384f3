"""Exceptions that carry a message meant for the person running the tests."""

from __future__ import annotations


class HarnessError(Exception):
    """An error whose message says what went wrong and what to do about it."""


class ConfigError(HarnessError):
    """A configuration value is missing or invalid."""


class ServerError(HarnessError):
    """A database server could not be obtained, reached or prepared."""


def driver_message(exc: BaseException) -> str:
    """The first line of what the database driver said (SQLAlchemy keeps it as ``exc.orig``)."""
    lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return lines[0] if lines else ""


def mask(text: str, secret: object) -> str:
    """*text* with every occurrence of *secret* (a password) shown as ``***``.

    A short secret is masked only where it stands alone, so that a password such as "p"
    does not turn every word it occurs in into nonsense ("O***erationalError").
    """
    if not secret:
        return text
    value = str(secret)
    if len(value) >= 6:
        return text.replace(value, "***")
    import re

    return re.sub(rf"(?<![A-Za-z0-9]){re.escape(value)}(?![A-Za-z0-9])", "***", text)
