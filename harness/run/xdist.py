"""pytest-xdist: one server per backend for the whole run, and a database per worker.

The controller (the xdist main process) starts each selected backend's server and migrates
its run database, the template, in a thread while the workers start (a worker's start-up,
pytest and the app imported and the tests collected, costs about as much as a server's), and
then writes what the workers need to a file in its private run directory. Each worker reads
it when it first needs a database and clones its own from the template (`harness.run.clone`).
The servers' admin passwords are in that file masked with a one-time key that travels only
in ``workerinput``. The controller owns everything it made: at the end it drops the workers'
databases on a server it does not own, then releases its own as without xdist, so nothing is
left behind even when a worker was killed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import HarnessError, ServerError
from harness.run.state import HarnessRun

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

    from harness.backends.base import Backend
    from harness.run.clone import Shared
    from harness.run.provision import Provisioned

#: the ``workerinput`` key holding what the controller hands each worker
WORKERINPUT_KEY = "harness"
#: the file in a worker's directory with its report lines, read by the controller
REPORT_FILE = "harness-report.txt"
#: the file in the controller's run directory with what the workers need, once prepared
SHARED_FILE = "harness-shared.bin"
#: how long a worker waits for the controller's servers and templates (launchers time out
#: sooner: this only guards against a controller that hangs)
WAIT_TIMEOUT = 900.0


def _mask(data: bytes, key: bytes) -> bytes:
    """XOR *data* with a SHA-256 counter-mode keystream of *key* (its own inverse)."""
    stream = bytearray()
    counter = 0
    while len(stream) < len(data):
        stream += hashlib.sha256(key + counter.to_bytes(8, "big")).digest()
        counter += 1
    return bytes(a ^ b for a, b in zip(data, stream[: len(data)], strict=True))


class Controller:
    """The controller's pytest plugin: prepares the backends and hands them to each worker."""

    def __init__(self, run: HarnessRun) -> None:
        self.run = run
        #: the id of every worker configured, the replacements of crashed ones included
        self.workers: list[str] = []
        self._shared: dict[str, dict[str, str | None]] = {}
        self._lines: list[str] = []
        self._progress = run.progress
        self._waited = False
        # The thread must not write to the terminal while the main thread does: its lines
        # are kept and printed by the main thread once it has waited for them.
        run.progress = self._lines.append
        run.before_release.append(self._drop_worker_databases)
        self._key = secrets.token_bytes(32)
        self._directory = run.workdir
        from harness.run.threads import preload

        preload()
        self._thread = threading.Thread(target=self._prepare, name="harness-xdist", daemon=True)
        self._thread.start()

    def _prepare(self) -> None:
        from harness.run.clone import Shared

        names = list(self.run.config.backends)
        try:
            # A failure is kept per backend in run.failures: that backend's tests fail with it.
            with contextlib.suppress(HarnessError):
                self.run.ensure(names)
            for name in names:
                self._shared[name] = self._share(name).to_input()
        except BaseException as exc:
            # Never leave a worker waiting or an error unsaid: the tests fail with it.
            error = f"the xdist controller failed preparing the databases: {exc!r}"
            for name in names:
                self._shared.setdefault(name, Shared(error=error).to_input())
        finally:
            partial = self._directory / f"{SHARED_FILE}.tmp"
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(_mask(json.dumps(self._shared).encode(), self._key))
            partial.rename(self._directory / SHARED_FILE)  # whole, or not at all

    def _share(self, name: str) -> Shared:
        from harness.run.clone import Shared
        from harness.run.template import migrate_template

        run = self.run
        failure = run.failures.get(name)
        if failure is not None:
            return Shared(error=str(failure))
        provisioned = run.provisioned[name]
        try:
            # Cloned from a kept template (--harness-reuse): already migrated.
            seconds = 0.0 if provisioned.migrated else migrate_template(run, name)
        except HarnessError as exc:
            run.failures[name] = exc
            self._lines.append(f"harness: {name}: migrating the template failed: {exc}")
            return Shared(error=str(exc))
        server = provisioned.server
        template = provisioned.database or provisioned.url.render_as_string(hide_password=False)
        made = "server started" if server is not None else "file made"
        if provisioned.migrated:  # --harness-reuse: a copy of the kept template
            self._lines.append(
                f"harness: {name}: {provisioned.obtained} by the xdist controller in "
                f"{provisioned.ready_seconds:.2f}s; the workers clone its copy "
                f"{provisioned.database or 'file'}"
            )
        else:
            self._lines.append(
                f"harness: {name}: {made} by the xdist controller; template "
                f"{provisioned.database or 'file'} migrated in {seconds:.1f}s"
            )
        return Shared(
            version=provisioned.version,
            launcher=provisioned.launcher,
            description=provisioned.description,
            template=template,
            server_url=None if server is None else server.url.render_as_string(hide_password=False),
        )

    def wait(self) -> None:
        """Wait for the servers and templates; print their lines (once, from this thread)."""
        self._thread.join()
        if self._waited:
            return
        self._waited = True
        self.run.progress = self._progress
        for line in self._lines:
            self._progress(line)

    def pytest_configure_node(self, node: Any) -> None:
        """Tell the worker about to start where the servers and templates will be said."""
        worker_id = str(node.workerinput["workerid"])
        self.workers.append(worker_id)
        node.workerinput[WORKERINPUT_KEY] = {
            "workdir": str(self._directory),
            "key": self._key.hex(),
            "controller": os.getpid(),
        }

    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        """Say how the worker got its databases: its lines, written when it cloned them."""
        # A worker clones only once the controller is done; one that needed no database may
        # finish collecting before: the controller's lines then wait for the next worker.
        if not self._thread.is_alive():
            self.wait()
        worker_id = str(node.workerinput["workerid"])
        try:
            text = (self._directory / worker_id / REPORT_FILE).read_text()
        except OSError:
            return
        for line in text.splitlines():
            self._progress(line)

    def _drop_worker_databases(self) -> list[str]:
        """Drop each worker's database on servers the harness does not own (`external`)."""
        from harness.run.clone import worker_database
        from harness.run.provision import _run, _with_admin, describe_error

        self.wait()
        problems = []

        def drop_all(backend: Backend, url: URL, names: list[str]) -> None:
            async def drop(conn: Any) -> None:
                for name in names:
                    await backend.drop_database(conn, name)

            _run(lambda: _with_admin(url, drop))

        for provisioned in self.run.provisioned.values():
            server = provisioned.server
            if server is None or server.owned or provisioned.database is None:
                continue  # stopping a server the harness owns removes every database on it
            names = [worker_database(provisioned.database, w) for w in self.workers]
            try:
                drop_all(provisioned.backend, server.url, names)
            except Exception as exc:
                problems.append(
                    f"{provisioned.backend.name}: could not drop the workers' databases: "
                    f"{describe_error(exc, server.url)}"
                )
        return problems


def start_controller(config: Any, run: HarnessRun) -> None:
    """Start preparing the backends now and register the controller's hooks."""
    config.pluginmanager.register(Controller(run), "harness-xdist-controller")


class Handoff:
    """A worker's side: what the controller prepared, read once, when first needed."""

    def __init__(self, directory: Path, key: bytes, controller: int) -> None:
        self.directory = directory
        self.key = key
        self.controller = controller
        self._shared: dict[str, Any] | None = None
        self._lock = threading.Lock()

    def shared(self, name: str) -> Shared:
        """Backend *name*'s `Shared`, waiting for the controller if it is not done yet."""
        from harness.run.clone import Shared

        with self._lock:
            if self._shared is None:
                self._shared = self._wait()
        data = self._shared.get(name)
        if data is None:
            raise ServerError(f"{name}: the xdist controller did not prepare this backend")
        return Shared.from_input(data)

    def _wait(self) -> dict[str, Any]:
        path = self.directory / SHARED_FILE
        deadline = time.monotonic() + WAIT_TIMEOUT
        while not path.exists():
            if os.getppid() != self.controller:
                raise ServerError("the xdist controller exited before preparing the databases")
            if time.monotonic() > deadline:
                raise ServerError(
                    f"the xdist controller did not prepare the databases in {WAIT_TIMEOUT:.0f}s"
                )
            time.sleep(0.01)
        data: dict[str, Any] = json.loads(_mask(path.read_bytes(), self.key))
        return data


def attach_worker(run: HarnessRun, workerinput: dict[str, Any]) -> bool:
    """Make this worker's run use the controller's servers; False if it handed none."""
    from harness.run.clone import clone_for_worker

    data = workerinput.get(WORKERINPUT_KEY)
    if not isinstance(data, dict):
        return False
    worker_id = str(workerinput["workerid"])
    controller = Path(data["workdir"])
    directory = controller / worker_id
    directory.mkdir(mode=0o700, exist_ok=True)
    run.use_workdir(directory)
    handoff = Handoff(controller, bytes.fromhex(data["key"]), int(data["controller"]))
    report = directory / REPORT_FILE

    def provide(name: str) -> Provisioned:
        share = handoff.shared(name)
        if share.error is not None:
            raise HarnessError(share.error)
        provisioned = clone_for_worker(run.registry.backend(name), share, worker_id, directory)
        with report.open("a") as f:
            f.write(
                f"harness: {name}: {provisioned.obtained} in {provisioned.ready_seconds:.2f}s "
                f"({provisioned.masked_url})\n"
            )
        return provisioned

    run.provider = provide
    return True
