"""The harness's own threads import none of its modules: the thread that starts them does.

pytest rewrites the assertions of a plugin's modules as they are first imported: it parses and
compiles them. Before Python 3.13 two threads doing that at the same moment can fail with
``SystemError: AST constructor recursion depth mismatch`` (CPython issue 106905), an
INTERNALERROR in whichever thread lost, such as the main thread importing xdist's modules
while the xdist controller's thread migrates the template. So before a thread that provisions
starts, the modules it will import are imported where it is started.
"""

from __future__ import annotations

import importlib

#: what the provisioning threads (`HarnessRun.ensure`, the xdist controller's, the spare
#: copy's) and the event loop threads of `harness.run.provision` import on demand
MODULES = (
    "harness.isolation.elsewhere",
    "harness.isolation.timeouts",
    "harness.migrations.runner",
    "harness.backends._mysql_clone",
    "harness.run.provision",
    "harness.run.clone",
    "harness.run.template",
    "harness.run.fingerprint",
    "harness.run.stale",
    "harness.run.kept",
    "harness.run.drop",
    "harness.run.spare",
    "harness.run.reuse",
)


def preload() -> None:
    """Import `MODULES` in this thread (quick once they are imported)."""
    for name in MODULES:
        importlib.import_module(name)
