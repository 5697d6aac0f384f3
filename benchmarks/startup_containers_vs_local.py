"""Benchmark: session start-up per backend, through the containers launcher vs the local one.

For each backend and launcher, in one run, a few rounds of what a session does first:
  server ready    the launcher's ``start()`` returned (the server accepts connections)
  database ready  ``provision()`` returned: server ready, then the run's own database
                  created on it and the server version read (what the session waits for)
Each round starts a fresh server and removes it before the next.

Usage: python benchmarks/startup_containers_vs_local.py [--backends postgresql,mysql]
       [--launchers containers,local] [--rounds 3] [--image BACKEND=IMAGE ...]
Images default to HARNESS_<BACKEND>_IMAGE, then the launcher's defaults (never pulled
here: a missing image is reported, not fetched). scripts/docker-lane --build-only builds
the lane's images; export their tags as HARNESS_POSTGRESQL_IMAGE / HARNESS_MYSQL_IMAGE.
A launcher that cannot run here is listed with its reason. Timings are never asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from harness.backends.base import Backend
from harness.builtins import default_registry
from harness.errors import HarnessError
from harness.launchers.base import LaunchContext, Launcher, Server
from harness.run.provision import provision, release


class TimedLauncher:
    """Wraps a launcher to record how long each ``start()`` took."""

    kind = "launcher"

    def __init__(self, inner: Launcher) -> None:
        self.inner = inner
        self.name = inner.name
        self.backends = inner.backends
        self.starts: list[float] = []

    def unavailable_reason(self, backend: Backend, ctx: LaunchContext) -> str | None:
        return self.inner.unavailable_reason(backend, ctx)

    def start(self, backend: Backend, ctx: LaunchContext) -> Server:
        started = time.perf_counter()
        server = self.inner.start(backend, ctx)
        self.starts.append(time.perf_counter() - started)
        return server


def _summary(values: Sequence[float]) -> str:
    if not values:
        return f"{'-':>6} {'-':>6} {'-':>6}"
    return f"{min(values):6.2f} {statistics.median(values):6.2f} {max(values):6.2f}"


def _image_present(image: str) -> str | None:
    """Why *image* cannot be used without pulling it, or None."""
    from harness.launchers.containers import docker_client

    client = docker_client(10)
    try:
        if client.images.list(name=image):
            return None
        return f"image {image} is not present (this benchmark does not pull)"
    finally:
        client.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backends", default="postgresql,mysql")
    parser.add_argument("--launchers", default="containers,local")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--image", action="append", default=[], metavar="BACKEND=IMAGE")
    args = parser.parse_args(argv)

    images = {}
    for backend_name in args.backends.split(","):
        env_image = os.environ.get(f"HARNESS_{backend_name.upper()}_IMAGE")
        if env_image:
            images[backend_name] = env_image
    for item in args.image:
        backend_name, _, image = item.partition("=")
        images[backend_name] = image

    registry = default_registry(load_entry_points=False)
    rows: list[tuple[str, str, list[float], list[float], str]] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="harness-bench-") as workdir:
        for backend_name in args.backends.split(","):
            backend = registry.backend(backend_name)
            for launcher_name in args.launchers.split(","):
                inner = registry.launcher(launcher_name, backend_name)
                if inner is None:
                    rows.append((backend_name, launcher_name, [], [], "no such launcher"))
                    continue
                timed = TimedLauncher(inner)
                registry.launchers[(launcher_name, backend_name)] = timed  # type: ignore[assignment]  # a duck-typed wrapper
                options = {"image": images[backend_name]} if backend_name in images else {}
                totals: list[float] = []
                problem = ""
                for round_number in range(args.rounds):
                    lines: list[str] = []
                    ctx = LaunchContext(
                        workdir=Path(workdir),
                        options=dict(options),
                        progress=lines.append,
                        run_id=f"bench_{os.getpid()}_{round_number}",
                    )
                    reason = timed.unavailable_reason(backend, ctx)
                    if reason is None and launcher_name == "containers":
                        from harness.launchers.containers import DEFAULT_IMAGES

                        reason = _image_present(options.get("image", DEFAULT_IMAGES[backend_name]))
                    if reason is not None:
                        problem = reason
                        break
                    started = time.perf_counter()
                    try:
                        provisioned = provision(registry, backend, launcher_name, ctx)
                    except HarnessError as exc:
                        problem = str(exc).splitlines()[0]
                        break
                    totals.append(time.perf_counter() - started)
                    if round_number == 0:
                        notes.append(
                            f"{backend_name} via {launcher_name}: {provisioned.description} "
                            f"({provisioned.version})"
                        )
                    for text in release(provisioned):
                        notes.append(f"{backend_name} via {launcher_name}: {text}")
                registry.launchers[(launcher_name, backend_name)] = inner
                rows.append((backend_name, launcher_name, timed.starts, totals, problem))

    stats = f"{'min':>6} {'median':>6} {'max':>6}"
    head = f"{'backend':<11} {'launcher':<11} {'server ready (s)':<21}  {'database ready (s)':<21}"
    sub = f"{'':<11} {'':<11} {stats}   {stats}"
    print(f"session start-up, {args.rounds} round(s) each")
    print(head)
    print(sub)
    for backend_name, launcher_name, starts, totals, problem in rows:
        line = f"{backend_name:<11} {launcher_name:<11} {_summary(starts)}   {_summary(totals)}"
        print(line + (f"   n/a: {problem}" if problem else ""))
    for note in notes:
        print(f"  {note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
