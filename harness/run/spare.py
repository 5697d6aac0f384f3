"""A spare copy of the kept template, made while a run's tests run, taken by the next run;
and the databases earlier runs left on the kept server, dropped meanwhile.

Copying a PostgreSQL template (``CREATE DATABASE ... TEMPLATE``) takes 0.1-0.3 s here: most
of a warm ``--harness-reuse`` start. Renaming a database takes a millisecond. So a run on a
kept server, once it has its own database, copies the template once more in the background
(on the server, while its tests run) into `SPARE`; the next run renames that copy to its own
name instead of copying at start-up, and makes the next spare in turn.

The spare is taken only while the template it was copied from is current: the kept record
names it only once the copy is complete, and a rebuilt template forgets it. Backends without
a ``rename_database`` (MariaDB has no such statement) copy at start-up as before.

A run does not drop its own database on the way out either (a connection and a ``DROP
DATABASE``, 20-40 ms, at the end of every run): it names it in the kept record (`leave`), and
the next run drops it on the same background connection. The lock on what is kept makes that
safe: the run that left it has ended. Removing the kept server removes them all anyway.
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
    template: str | None,
) -> None:
    """In the background, drop what earlier runs left on the kept server and copy *template*
    (None: the run's database is not a copy of it) to the spare; the run waits for this to
    end before it lets go of the kept server (`HarnessRun.before_release`)."""
    copy_spare = template is not None and getattr(backend, "rename_database", None) is not None
    leftover = list(record.leftover)
    if not copy_spare and not leftover:
        return
    from sqlalchemy.exc import SQLAlchemyError

    from harness.run.clone import copy_template
    from harness.run.provision import _run, _with_admin

    if record.spare:  # taken, or copied from an older template: none until this copy ends
        record.spare = ""
        kept.write(directory, record)

    async def tidy(conn: AsyncConnection) -> tuple[list[str], bool]:
        dropped = []
        for name in leftover:
            try:
                await backend.drop_database(conn, name)
            except SQLAlchemyError:  # still in use, say: the next run tries again
                continue
            dropped.append(name)
        if not copy_spare:
            return dropped, False
        assert template is not None
        return dropped, await copy_template(backend, template, SPARE)(conn)

    def work() -> None:
        try:
            dropped, made = _run(lambda: _with_admin(server_url, tidy))
        except Exception:  # no spare: the next run copies at its start, as without one
            return
        record.leftover = [name for name in record.leftover if name not in dropped]
        if made:
            record.spare = SPARE
        kept.write(directory, record)

    thread = threading.Thread(target=work, name="harness-spare", daemon=True)
    thread.start()

    def wait() -> list[str]:
        thread.join()
        return []

    run.before_release.append(wait)


def leave(directory: Path, record: kept.Record, database: str) -> None:
    """Leave the run's *database* on the kept server for the next run to drop (`prepare`):
    dropping it here would keep the run from ending for the length of a connection and a
    ``DROP DATABASE``. `OSError` if the record cannot be written."""
    record.leftover.append(database)
    kept.write(directory, record)
