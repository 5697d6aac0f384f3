"""The ``external`` launcher: a server someone else runs, given by URL."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from harness.backends.base import Backend
from harness.errors import ConfigError
from harness.launchers.base import LaunchContext, LauncherUnavailable, Server
from harness.registry import Registry

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

#: the driver each built-in backend's URLs are rewritten to when the user gives a bare scheme
_ASYNC_DRIVERS = {"postgresql": "asyncpg", "mysql": "aiomysql", "mariadb": "aiomysql"}


def parse_server_url(backend: Backend, raw: str) -> URL:
    """Parse a user-given URL for *backend*, defaulting the async driver; clear errors only."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(raw)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise ConfigError(
            f"the URL given for {backend.name} is not a database URL "
            f"(expected e.g. {backend.name}://user:password@host:port/, the port a number)"
        ) from None
    dialect = url.get_backend_name()
    if dialect == "mariadb":
        dialect = "mysql"
    if dialect != backend.name:
        raise ConfigError(
            f"the URL given for {backend.name} is for {url.get_backend_name()!r}; "
            f"give a {backend.name}:// URL"
        )
    if "+" not in url.drivername and url.get_backend_name() in _ASYNC_DRIVERS:
        url = url.set(drivername=f"{url.get_backend_name()}+{_ASYNC_DRIVERS[dialect]}")
    _check_driver(backend, url)
    return url


def _check_driver(backend: Backend, url: URL) -> None:
    """The URL's driver must exist, be async and be installed: said here, in one line."""
    from sqlalchemy.exc import ArgumentError

    driver = url.get_driver_name()
    try:
        dialect = url.get_dialect()
    except ArgumentError:
        raise ConfigError(
            f"the URL given for {backend.name} names the driver {driver!r}, which SQLAlchemy "
            f"does not know; use e.g. {backend.name}+{_ASYNC_DRIVERS.get(backend.name, '...')}"
        ) from None
    if not getattr(dialect, "is_async", False):
        raise ConfigError(
            f"the URL given for {backend.name} names {driver!r}, a sync driver; the harness "
            f"needs an async one: e.g. {backend.name}+{_ASYNC_DRIVERS.get(backend.name, '...')}"
        )
    try:
        dialect.import_dbapi()
    except ImportError as exc:
        raise ConfigError(
            f"the URL given for {backend.name} names the driver {driver!r}, which is not "
            f"installed ({exc}): pip install {exc.name or driver}, or name another driver"
        ) from None


class ExternalLauncher:
    """Uses a server the user runs; the harness only ever creates and drops its own database."""

    kind: ClassVar[str] = "launcher"
    name: ClassVar[str] = "external"
    backends: ClassVar[tuple[str, ...]] = ("postgresql", "mysql")

    def unavailable_reason(self, backend: Backend, ctx: LaunchContext) -> str | None:
        if not ctx.options.get("url"):
            return (
                f"no URL given for {backend.name}: pass --harness-url {backend.name}=URL, "
                f"set HARNESS_{backend.name.upper()}_URL or the ini key "
                f"harness_url_{backend.name}"
            )
        return None

    def start(self, backend: Backend, ctx: LaunchContext) -> Server:
        reason = self.unavailable_reason(backend, ctx)
        if reason is not None:
            raise LauncherUnavailable(reason)
        url = parse_server_url(backend, ctx.options["url"])
        return Server(
            url=url,
            launcher=self.name,
            description=f"external {url.host or 'localhost'}:{url.port or 'default port'}",
            owned=False,
        )


def register(registry: Registry) -> None:
    registry.register(ExternalLauncher())
