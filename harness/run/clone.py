"""An xdist worker's database: a copy of the template the controller migrated, on its server."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from harness.backends.base import Backend, CloneUnsupported
from harness.errors import ServerError
from harness.launchers.base import Server
from harness.run.provision import Provisioned, _run, _with_admin, describe_error


@dataclasses.dataclass
class Shared:
    """What the controller hands each worker about one backend (through ``workerinput``)."""

    version: str = ""
    launcher: str = ""
    description: str = ""
    #: the migrated template: a database name on the server, or an embedded database's URL
    template: str = ""
    #: the server's admin URL, password included (None for embedded backends): never print it
    server_url: str | None = None
    #: why the controller could not prepare this backend: its tests fail with this line
    error: str | None = None

    def to_input(self) -> dict[str, str | None]:
        """The plain dict that travels in ``workerinput`` (execnet sends only builtins)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_input(cls, data: dict[str, str | None]) -> Shared:
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in fields})  # type: ignore[arg-type]


def worker_database(template: str, worker_id: str) -> str:
    """The name of *worker_id*'s database: the template's (which holds the run id) + the id."""
    return f"{template}_{worker_id}"


def _embedded(
    backend: Backend, shared: Shared, worker_id: str, directory: Path, started: float
) -> Provisioned:
    copy = getattr(backend, "clone_embedded", None)
    if copy is None:
        url = backend.embedded_url(directory)
        obtained = f"a new file for worker {worker_id}, migrated by it"
    else:
        url = copy(make_url(shared.template), directory)
        obtained = f"copied from the template file for worker {worker_id}"
    return Provisioned(
        backend=backend,
        url=url,
        version=shared.version,
        launcher=shared.launcher,
        description=shared.description,
        ready_seconds=time.perf_counter() - started,
        migrated=copy is not None,
        obtained=obtained,
    )


def copy_template(
    backend: Backend, template: str, name: str
) -> Callable[[AsyncConnection], Coroutine[Any, Any, bool]]:
    """An admin action making database *name* a copy of *template*; True if it is migrated.

    A backend without a way to clone (or a template it cannot copy faithfully) gets *name*
    empty: False, and its ``db_engine`` migrates it.
    """
    clone = getattr(backend, "clone_database", None)

    async def make(conn: AsyncConnection) -> bool:
        await backend.drop_database(conn, name)  # only ever our own name
        if clone is None:
            await backend.create_database(conn, name)
            return False
        try:
            await clone(conn, template, name)
        except CloneUnsupported:
            return False
        return True

    return make


def clone_for_worker(
    backend: Backend, shared: Shared, worker_id: str, directory: Path
) -> Provisioned:
    """Worker *worker_id*'s own database, on the controller's server, as migrated as the template.

    A backend without a way to clone (or a template it cannot copy faithfully) gets an empty
    database that the worker's ``db_engine`` migrates. The worker neither stops the server nor
    drops the database: the controller does both at the end, even if this worker dies.
    """
    started = time.perf_counter()
    if not backend.needs_server:
        return _embedded(backend, shared, worker_id, directory, started)
    assert shared.server_url is not None
    server_url = make_url(shared.server_url)
    name = worker_database(shared.template, worker_id)

    try:
        migrated = _run(
            lambda: _with_admin(server_url, copy_template(backend, shared.template, name))
        )
    except (SQLAlchemyError, OSError) as exc:
        raise ServerError(
            f"{backend.name}: worker {worker_id} could not copy the template "
            f"{shared.template} into {name}: {describe_error(exc, server_url)}"
        ) from None
    obtained = (
        f"cloned from template {shared.template} for worker {worker_id}"
        if migrated
        else f"created for worker {worker_id}, migrated by it"
    )
    return Provisioned(
        backend=backend,
        url=backend.database_url(server_url, name),
        version=shared.version,
        launcher=shared.launcher,
        description=shared.description,
        # The controller's server, for what needs one more database (the migration checks'
        # scratch ones); not owned here: the worker never stops it, and with no database
        # recorded, `release` drops nothing either.
        server=Server(
            url=server_url,
            launcher=shared.launcher,
            description=shared.description,
            owned=False,
        ),
        ready_seconds=time.perf_counter() - started,
        migrated=migrated,
        obtained=obtained,
    )
