"""A spare copy of the kept template, made while a run's tests run, taken by the next run.

Copying a PostgreSQL template (``CREATE DATABASE ... TEMPLATE``) takes about 0.3 s here: most
of a warm ``--harness-reuse`` start. Renaming a database takes a millisecond. So a run on a
kept server, once it has its own database, copies the template once more in the background
(on the server, while its tests run) into `SPARE`; the next run renames that copy to its own
name instead of copying at start-up, and makes the next spare in turn.

The spare is taken only while the template it was copied from is current: the kept record
names it only once the copy is complete, and a rebuilt template forgets it. Backends without
a ``rename_database`` (MariaDB has no such statement) copy at start-up as before.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from harness.run import kept

if TYPE_CHECKING:
    from pathlib import Path

    from sqlalchemy.engine import URL
    from sqlalchemy.ext.asyncio import AsyncConnection

    from harness.backends.base import Backend
    from harness.run.state import HarnessRun

#: the spare's name on a kept server (one project per kept server, one run at a time)
SPARE = "harness_spare"


async def take(backend: Backend, conn: AsyncConnection, record: kept.Record, name: str) -> bool:
    """Make the spare (if there is one) database *name*; True if it was there to take."""
    from sqlalchemy.exc import SQLAlchemyError

    rename = getattr(backend, "rename_database", None)
    if rename is None or record.spare != SPARE:
        return False
    try:
        await rename(conn, SPARE, name)
    except SQLAlchemyError:  # gone (someone dropped it): copy the template as usual
        return False
    return True


def prepare(
    run: HarnessRun,
    backend: Backend,
    server_url: URL,
    directory: Path,
    record: kept.Record,
    template: str,
) -> None:
    """Copy *template* to the spare in the background; the run waits for the copy to end
    before it lets go of the kept server (`HarnessRun.before_release`)."""
    if getattr(backend, "rename_database", None) is None:
        return
    from harness.run.clone import copy_template
    from harness.run.provision import _run, _with_admin

    if record.spare:  # taken, or copied from an older template: none until this copy ends
        record.spare = ""
        kept.write(directory, record)

    def copy() -> None:
        try:
            made = _run(lambda: _with_admin(server_url, copy_template(backend, template, SPARE)))
        except Exception:  # no spare: the next run copies at its start, as without one
            return
        if made:
            record.spare = SPARE
            kept.write(directory, record)

    thread = threading.Thread(target=copy, name="harness-spare", daemon=True)
    thread.start()

    def wait() -> list[str]:
        thread.join()
        return []

    run.before_release.append(wait)
