"""No writes elsewhere: during a test, a connection to any other database fails that test.

The redirection (`harness.wiring.redirect`) points every AsyncSession and AsyncEngine
connection the app makes at the test's transaction. What it cannot see, a sync engine or a
second engine used below the async layer, would otherwise write for real into whatever its
URL names: a file in the project, a developer's server. While a test runs, every new
connection of any SQLAlchemy engine is checked (a class-wide ``engine_connect`` listener,
attached once); one to a database other than the test's is refused with one line (the URL,
password hidden, and where it was opened), and the test fails with that line even if the
code under test swallowed the error.
"""

from __future__ import annotations

import contextlib
import dataclasses
import weakref
from collections.abc import Iterator

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine

from harness.errors import HarnessError
from harness.wiring.seen import made_at


class ConnectionElsewhere(HarnessError):
    """The code under test connected to a database other than the test's."""


@dataclasses.dataclass
class _Watch:
    test: str
    allowed: tuple[object, ...]
    refused: list[str] = dataclasses.field(default_factory=list)
    #: the test's report already gives the line (the refusal reached the test)
    said: bool = False


_active: _Watch | None = None
_listening = False
#: the harness's own engines (admin work in the background, such as copying a spare
#: database while the tests run): never the code under test, never refused
_own: weakref.WeakSet[Engine] = weakref.WeakSet()


def exempt(engine: Engine) -> None:
    """Never refuse *engine*'s connections: it is the harness's own, not the app's."""
    _own.add(engine)


def _where(url: URL) -> tuple[object, ...]:
    return (url.get_backend_name(), url.host, url.port, url.database)


def _on_connect(conn: Connection) -> None:
    watch = _active
    if watch is None or conn.engine in _own:
        return
    url = conn.engine.url
    if _where(url) == watch.allowed:
        return
    message = (
        f"{watch.test} connected to {url.render_as_string(hide_password=True)} at "
        f"{made_at()}, not to the test's database: an engine the harness does not redirect "
        "(a sync engine, or one used below the async layer). Build it from the URL the "
        "harness sets (harness_url_env) or use the app's async engine, so that its writes "
        "stay in the test's transaction"
    )
    if message not in watch.refused:
        watch.refused.append(message)
    raise ConnectionElsewhere(message)


def mark_said() -> None:
    """The running test's report shows the refusal: its teardown need not say it again."""
    if _active is not None:
        _active.said = True


@contextlib.contextmanager
def refused_elsewhere(test: str, url: URL) -> Iterator[_Watch]:
    """While active, connections to any database but *url*'s fail (see the module doc)."""
    global _active, _listening
    if not _listening:
        event.listen(Engine, "engine_connect", _on_connect)
        _listening = True
    watch = _Watch(test, _where(url))
    _active = watch
    try:
        yield watch
    finally:
        _active = None
