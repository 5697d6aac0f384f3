"""Closing a run: everything is released and its directory removed, also when interrupted."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.builtins import default_registry
from harness.config import Sources, resolve
from harness.run.state import HarnessRun


def _run() -> HarnessRun:
    registry = default_registry()
    config = resolve(
        Sources(cli={"harness_backends": "sqlite"}, env={}, ini=lambda key: None),
        backends=list(registry.backends),
        launchers=registry.launcher_names(),
    )
    return HarnessRun(config, registry, progress=lambda line: None, rootdir=Path.cwd())


def test_a_ctrl_c_while_closing_still_releases_the_rest_and_removes_the_directory() -> None:
    run = _run()
    directory = run.workdir
    assert directory.is_dir()
    done: list[str] = []

    def interrupted() -> list[str]:
        done.append("first")
        raise KeyboardInterrupt

    def after() -> list[str]:
        done.append("second")
        return ["a problem"]

    run.before_release.extend([interrupted, after])
    with pytest.raises(KeyboardInterrupt):
        run.close()
    assert done == ["first", "second"]
    assert not directory.exists()
    assert run.close() == []  # a second close (pytest's cleanup) finds nothing left
