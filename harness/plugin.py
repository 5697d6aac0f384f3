"""The pytest hooks of the harness: options, configuration, parametrization, report lines."""

from __future__ import annotations

import importlib.util
import inspect
import os
from typing import TYPE_CHECKING, Any, Final

import pytest

from harness import hooks
from harness.builtins import default_registry
from harness.closure import builds_on
from harness.config import BACKEND_OPTIONS, INI_ONLY, LAUNCHERS, Sources, resolve
from harness.errors import HarnessError
from harness.isolation import marker as isolation_marker
from harness.run.state import HarnessRun

if TYPE_CHECKING:
    from _pytest.fixtures import FixtureDef

RUN_KEY = pytest.StashKey[HarnessRun]()
#: what ``--harness-reuse-drop`` removed, said in the report header
DROPPED_KEY = pytest.StashKey[list[str]]()
#: the fixture every database fixture depends on: using it is what parametrizes a test
BACKEND_FIXTURE = "db_backend"
MARKER = "harness_backends"
#: tests and fixtures that use the engine must run on the loop that created it
LOOP_SCOPE: Final = "session"


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hooks)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("harness", "harness: one suite on SQLite, PostgreSQL and MySQL")
    # Only built-in and entry-point backends can have ini keys: they must exist before
    # conftest files are read.
    known = list(default_registry().backends)
    group.addoption(
        "--harness-backends",
        dest="harness_backends",
        default=None,
        metavar="NAMES",
        help=f"comma list of backends to run database tests on: {', '.join(known)} or all "
        "(env HARNESS_BACKENDS, ini harness_backends; default sqlite)",
    )
    group.addoption(
        "--harness-launcher",
        dest="harness_launcher",
        default=None,
        metavar="NAME",
        help=f"how servers are obtained: {', '.join(LAUNCHERS)} "
        "(env HARNESS_LAUNCHER, ini harness_launcher; default auto)",
    )
    for option, (flag, what) in BACKEND_OPTIONS.items():
        group.addoption(
            flag,
            dest=f"harness_{option}",
            action="append",
            default=[],
            metavar=f"BACKEND={option.upper()}",
            help=f"{what}; repeatable (env HARNESS_<BACKEND>_{option.upper()}, "
            f"ini harness_{option}_<backend>)",
        )
        for backend in known:
            parser.addini(f"harness_{option}_{backend}", f"{what} ({backend})", default=None)
    group.addoption(
        "--harness-migration-checks",
        dest="harness_migration_checks",
        action="store_true",
        default=None,
        help="add migration check items (single head, stairway, model/schema match) per "
        "backend (env HARNESS_MIGRATION_CHECKS=1, ini harness_migration_checks = true)",
    )
    parser.addini(
        "harness_migration_checks", "add the migration check items (true/false)", default=None
    )
    group.addoption(
        "--harness-reuse",
        dest="harness_reuse",
        action="store_true",
        default=None,
        help="keep each server and its migrated template for the next run with this flag, "
        "and reuse what an earlier run kept (env HARNESS_REUSE=1, ini harness_reuse = true)",
    )
    group.addoption(
        "--harness-reuse-drop",
        dest="harness_reuse_drop",
        action="store_true",
        default=None,
        help="remove the servers and templates earlier runs kept for this project, and say "
        "what was removed (env HARNESS_REUSE=drop, ini harness_reuse = drop)",
    )
    parser.addini(
        "harness_reuse",
        "keep servers and templates for the next run (true/false/drop)",
        default=None,
    )
    parser.addini("harness_backends", "comma list of backends (default sqlite)", default=None)
    parser.addini("harness_launcher", f"one of {', '.join(LAUNCHERS)}", default=None)
    for key, help_text in INI_ONLY.items():
        parser.addini(key, help_text, default=None)


def _is_xdist_controller(config: pytest.Config) -> bool:
    # xdist runs no workers for --collect-only
    return (
        bool(getattr(config.option, "numprocesses", None))
        and not hasattr(config, "workerinput")
        and not config.getoption("collectonly")
    )


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(*names): run this test only on these harness backends; "
        "the others are reported as skipped, with the reason",
    )
    config.addinivalue_line("markers", isolation_marker.DESCRIPTION)
    config.addinivalue_line(
        "markers",
        "harness_examples(isolate=True): isolate=False lets the examples of this @given test "
        "share database state (no per-example savepoint)",
    )
    # Per-example isolation and the harness-ci/harness-deep profiles, when Hypothesis is
    # installed: loaded when it is first imported (tryfirst: before Hypothesis's own plugin
    # imports it for --hypothesis-profile), so a run without Hypothesis tests never pays.
    if importlib.util.find_spec("hypothesis") is not None:
        from harness.hypothesis.lazy import install

        install(config)
    registry = default_registry()
    config.hook.pytest_harness_register(registry=registry)

    def ini(key: str) -> object:
        try:
            return config.getini(key)
        except ValueError:  # a backend registered from a conftest has no ini keys
            return None

    sources = Sources(cli=vars(config.option), env=os.environ, ini=ini)
    try:
        harness_config = resolve(
            sources, backends=list(registry.backends), launchers=registry.launcher_names()
        )
    except HarnessError as exc:
        raise pytest.UsageError(f"harness: {exc}") from None

    def progress(line: str) -> None:
        # Looked up on each call: the terminal reporter registers after this hook runs.
        terminal = config.pluginmanager.get_plugin("terminalreporter")
        if terminal is not None:
            terminal.write_line(line)

    run = HarnessRun(harness_config, registry, progress=progress, rootdir=config.rootpath)
    config.stash[RUN_KEY] = run

    # pytest_unconfigure closes it and says its problems; this runs even when a Ctrl-C in
    # another plugin's pytest_unconfigure kept that hook from running (closing twice is a no-op).
    def close_again() -> None:
        run.close()

    config.add_cleanup(close_again)
    try:
        run.export_placeholder_url()
    except HarnessError as exc:
        raise pytest.UsageError(f"harness: {exc}") from None
    workerinput = getattr(config, "workerinput", None)
    if harness_config.reuse_drop and workerinput is None:
        from harness.run.drop import drop_kept

        config.stash[DROPPED_KEY] = drop_kept(registry, config.rootpath)
    if workerinput is not None:
        from harness.run.xdist import attach_worker

        attach_worker(run, workerinput)
    elif _is_xdist_controller(config):
        from harness.run.xdist import start_controller

        # After the placeholder: the template's migration exports the template's URL.
        start_controller(config, run)
    # The queries plugin first: harness.fixtures imports it, and pytest rewrites a plugin's
    # asserts only if it imports the module itself.
    config.pluginmanager.import_plugin("harness.queries.plugin")
    config.pluginmanager.import_plugin("harness.fixtures")
    config.pluginmanager.import_plugin("harness.run.faults")
    if harness_config.migration_checks:
        config.pluginmanager.import_plugin("harness.migrations.items")


def pytest_unconfigure(config: pytest.Config) -> None:
    run = config.stash.get(RUN_KEY, None)
    if run is None:
        return
    for problem in run.close():
        config.issue_config_time_warning(pytest.PytestWarning(f"harness: {problem}"), stacklevel=2)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    run = config.stash.get(RUN_KEY, None)
    if run is None:
        return
    lines = run.redirections.lines()
    if lines and config.get_verbosity() >= 0:
        terminalreporter.write_sep("-", "harness wiring")
        for line in lines:
            terminalreporter.write_line(line)
    if run.failures and exitstatus != pytest.ExitCode.USAGE_ERROR:
        # Said last, where the eye lands: which backends' tests never ran, and why.
        terminalreporter.write_sep("=", "harness: backends whose tests did not run", red=True)
        for name, exc in run.failures.items():
            terminalreporter.write_line(
                f"harness: {exc}; no test ran on {name} (each is reported as an error)", red=True
            )


def pytest_report_header(config: pytest.Config) -> list[str]:
    run = config.stash[RUN_KEY]
    cfg = run.config
    origin = cfg.origin
    lines = [
        f"harness: backends {', '.join(cfg.backends)} ({origin['backends']}); "
        f"launcher {cfg.launcher} ({origin['launcher']})",
    ]
    for backend, options in sorted(cfg.backend_options.items()):
        for option, value in sorted(options.items()):
            shown = value
            if option == "url":
                from sqlalchemy.engine import make_url
                from sqlalchemy.exc import ArgumentError

                try:
                    shown = make_url(value).render_as_string(hide_password=True)
                except (ArgumentError, ValueError):
                    shown = "(not a valid URL)"
            lines.append(f"harness: {option} {backend} = {shown} ({origin[f'{option}_{backend}']})")
    schema = (
        f"alembic {cfg.alembic_ini}"
        if cfg.alembic_ini
        else (f"create_all {cfg.metadata}" if cfg.metadata else "none")
    )
    wiring = (
        "its own sessions redirected to each test's transaction"
        if cfg.wiring == "redirect"
        else f"{', '.join(cfg.session_dependencies) or '(no dependency)'} overridden"
    )
    lines.append(f"harness: app {cfg.app or '(harness_app not set)'} ({wiring}); schema {schema}")
    if cfg.url_env:
        lines.append(f"harness: sets {', '.join(cfg.url_env)} to each backend's test database URL")
    if cfg.reuse:
        lines.append(
            f"harness: reuse ({origin['reuse']}): servers and migrated templates are kept "
            "for the next run; --harness-reuse-drop removes them"
        )
    if _is_xdist_controller(config):
        lines.append(
            "harness: xdist: the controller starts each server and migrates one template; "
            "each worker clones its own database from it"
        )
    return lines


def _restricted_backends(metafunc: pytest.Metafunc, known: list[str]) -> set[str] | None:
    marks = list(metafunc.definition.iter_markers(MARKER))
    if not marks:
        return None
    allowed: set[str] | None = None
    for mark in marks:
        names = {str(name).lower() for name in mark.args}
        unknown = names - set(known)
        if unknown or not names:
            # A collection error shows its message alone, where a UsageError raised here
            # would come under the traceback of pytest's collection.
            raise pytest.Collector.CollectError(
                f"{metafunc.definition.nodeid}: @pytest.mark.{MARKER} needs backend names from "
                f"{', '.join(known)}; got {', '.join(map(repr, sorted(unknown))) or 'none'}"
            )
        # Markers on the class and the function narrow each other.
        allowed = names if allowed is None else allowed & names
    return allowed


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if BACKEND_FIXTURE not in metafunc.fixturenames:
        return
    run = metafunc.config.stash[RUN_KEY]
    allowed = _restricted_backends(metafunc, list(run.registry.backends))
    params = []
    for name in run.config.backends:
        if allowed is None or name in allowed:
            params.append(pytest.param(name, id=name))
        else:
            reason = (
                f"harness: @pytest.mark.{MARKER}({', '.join(map(repr, sorted(allowed)))}) "
                f"excludes {name}"
            )
            params.append(pytest.param(name, id=name, marks=pytest.mark.skip(reason=reason)))
    metafunc.parametrize(BACKEND_FIXTURE, params, indirect=True, scope="session")


def _pin_loop_scope(item: pytest.Item) -> None:
    """Run an async test that uses the harness's engine on the engine's (session) loop."""
    marker = item.get_closest_marker("asyncio")
    if marker is None:
        return
    scope = marker.kwargs.get("loop_scope") or marker.kwargs.get("scope")
    if scope is None:
        item.add_marker(pytest.mark.asyncio(loop_scope=LOOP_SCOPE), append=False)
    elif scope != LOOP_SCOPE:
        raise pytest.UsageError(
            f"{item.nodeid}: uses harness database fixtures but asks for "
            f"loop_scope={scope!r}; the harness's engine lives on the session loop. Remove "
            f"loop_scope or set it to {LOOP_SCOPE!r}."
        )


def _pin_fixture_loop_scopes(item: pytest.Item) -> None:
    """Async fixtures that build on harness fixtures must run on the same loop as they do."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return
    closure = set(info.names_closure)
    for name in closure:
        for fixturedef in info.name2fixturedefs.get(name, ()):
            func = getattr(fixturedef.func, "__func__", fixturedef.func)
            if not (inspect.iscoroutinefunction(func) or inspect.isasyncgenfunction(func)):
                continue
            if func.__module__ == "harness.fixtures":
                continue
            if not _uses_backend(fixturedef, info):
                continue
            # pytest-asyncio reads this attribute (set by pytest_asyncio.fixture(loop_scope=))
            scope = getattr(func, "_loop_scope", None)
            if scope is None:
                func._loop_scope = LOOP_SCOPE
            elif scope != LOOP_SCOPE:
                raise pytest.UsageError(
                    f"{item.nodeid}: the async fixture {name!r} uses harness database "
                    f"fixtures but asks for loop_scope={scope!r}; the harness's engine lives "
                    f"on the session loop. Remove loop_scope or set it to {LOOP_SCOPE!r}."
                )


def _uses_backend(fixturedef: FixtureDef[object], info: object) -> bool:
    return builds_on(fixturedef.argnames, {BACKEND_FIXTURE}, getattr(info, "name2fixturedefs", {}))


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # The items one test function's parametrization makes share its fixture info: their
    # fixtures are pinned once, not once per item (thousands of items in a large suite).
    pinned: set[int] = set()
    for item in items:
        if BACKEND_FIXTURE in getattr(item, "fixturenames", ()):
            # A bad mode is one line, before any test; db_session reads the stash.
            item.stash[isolation_marker.ISOLATION_KEY] = isolation_marker.isolation_of(item)
            _pin_loop_scope(item)
            info = getattr(item, "_fixtureinfo", None)
            if id(info) not in pinned:
                pinned.add(id(info))
                _pin_fixture_loop_scopes(item)


def backend_of(item: pytest.Item) -> str | None:
    """The backend a database test runs on (its ``db_backend`` parameter), else None."""
    callspec = getattr(item, "callspec", None)
    if callspec is None or BACKEND_FIXTURE not in callspec.params:
        return None
    return str(callspec.params[BACKEND_FIXTURE])


def _needed_backends(items: list[pytest.Item]) -> list[str]:
    needed = []
    for item in items:
        backend = backend_of(item)
        if backend is None or item.get_closest_marker("skip") is not None:
            continue
        needed.append(backend)
    return list(dict.fromkeys(needed))


@pytest.hookimpl(tryfirst=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """Start every server the selected tests need, in parallel, before the first test."""
    from harness.hypothesis.lazy import COLLECTED

    session.config.stash[COLLECTED] = True
    if session.config.getoption("collectonly"):
        return
    run = session.config.stash[RUN_KEY]
    try:
        run.ensure(_needed_backends(session.items))
    except HarnessError as exc:
        if run.provider is not None:
            return  # an xdist worker: that backend's tests fail with it, the others run
        raise pytest.UsageError(f"harness: {exc}") from None


def pytest_report_collectionfinish(config: pytest.Config) -> list[str]:
    run = config.stash[RUN_KEY]
    dropped: list[str] = config.stash.get(DROPPED_KEY, [])
    return dropped + [
        f"harness: {name}: {p.version} via {p.launcher} ({p.description}) {p.masked_url}"
        + (f"; {p.obtained} in {p.ready_seconds:.2f}s" if p.obtained else "")
        for name, p in sorted(
            run.provisioned.items(), key=lambda item: run.config.backends.index(item[0])
        )
    ]
