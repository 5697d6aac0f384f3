"""Resolves the harness configuration: command line, then environment, then ini, then default."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence

from harness.errors import ConfigError

LAUNCHERS = ("auto", "containers", "local", "external")
#: how the app reaches the test's transaction: its own sessions redirected (the default), or
#: its session dependency replaced by one that yields the test's ``db_session``
WIRINGS = ("redirect", "override")
#: the N+1 report: off, a warning per test, or a failure
NPLUSONE = ("off", "warn", "fail")
DEFAULT_NPLUSONE_THRESHOLD = 5
#: when the app's lifespan runs: once per backend for the session (as a server), or per test
LIFESPANS = ("session", "test")
DEFAULT_BACKENDS = ("sqlite",)
DEFAULT_LAUNCHER = "auto"
#: per-backend options: the key used in ``LaunchContext.options`` -> (CLI flag, what it is)
BACKEND_OPTIONS = {
    "url": ("--harness-url", "an existing server for the external launcher"),
    "image": ("--harness-image", "the container image for the containers launcher"),
    "driver": (
        "--harness-driver",
        "the async driver the tests' engine uses (e.g. psycopg, asyncmy); default the backend's",
    ),
}
#: plain ini keys (no CLI or environment form): key -> help
#: long enough for a busy CI machine, short enough that a test waiting on itself fails
DEFAULT_LOCK_TIMEOUT = 10.0

INI_ONLY = {
    "harness_app": "module:attr of the FastAPI app, or of a factory returning it",
    "harness_session_dependency": (
        "module:attr of the dependency (or a comma list of them) yielding the app's AsyncSession"
    ),
    "harness_sessionmaker": (
        "module:attr of an async_sessionmaker the app uses outside dependency injection;"
        " rebound to the test's connection"
    ),
    "harness_wiring": (
        "redirect (default: the app's own sessions join the test's transaction) or override"
        " (harness_session_dependency replaced by one yielding db_session)"
    ),
    "harness_lifespan": (
        "session (default: the app's lifespan runs once per backend) or test (around each test)"
    ),
    "harness_nplusone": (
        "off (default), warn or fail: report a statement sent more than"
        " harness_nplusone_threshold times in one request"
    ),
    "harness_nplusone_threshold": f"repeats allowed before the N+1 report (default {5})",
    "harness_url_env": (
        "comma list of environment variables (e.g. DATABASE_URL) the harness sets to the"
        " test database's URL, for settings and Alembic env.py files that read one"
    ),
    "harness_lock_timeout": (
        f"seconds a statement may wait for a lock before it fails (default {10}; 0: forever)"
    ),
    "harness_alembic_ini": "path of alembic.ini (relative to the rootdir)",
    "harness_metadata": "module:attr of the MetaData to create_all when there is no alembic.ini",
}


@dataclasses.dataclass(frozen=True)
class Sources:
    """The raw values, one mapping per place a value can come from."""

    cli: Mapping[str, object]
    env: Mapping[str, str]
    ini: Callable[[str], object]


@dataclasses.dataclass(frozen=True)
class HarnessConfig:
    backends: tuple[str, ...]
    launcher: str
    #: backend name -> {"url": ..., "image": ...}: only keys that were given
    backend_options: dict[str, dict[str, str]]
    app: str | None
    session_dependencies: tuple[str, ...]
    sessionmaker: str | None
    #: one of `WIRINGS`
    wiring: str
    #: one of `LIFESPANS`
    lifespan: str
    #: one of `NPLUSONE`, and the repeats allowed in one request
    nplusone: str
    nplusone_threshold: int
    #: seconds a statement in a test may wait for a lock (0: no limit)
    lock_timeout: float
    #: environment variables set to the test database's URL
    url_env: tuple[str, ...]
    alembic_ini: str | None
    metadata: str | None
    #: add the migration check items (see harness.migrations.items)
    migration_checks: bool
    #: setting name -> where its value came from, for the report header
    origin: dict[str, str]
    #: keep each server and its migrated template for the next run (see `harness.run.reuse`)
    reuse: bool = False
    #: remove what earlier runs kept for this project before this run starts
    reuse_drop: bool = False

    def options_for(self, backend: str) -> dict[str, str]:
        return dict(self.backend_options.get(backend, {}))


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def parse_backends(value: str, known: Sequence[str]) -> tuple[str, ...]:
    """Parse a comma list of backend names (or ``all``) against the *known* ones."""
    names = _split(value.lower())
    if not names:
        raise ConfigError(
            f"no backend given; choose from: {', '.join(known)} (comma-separated) or 'all'"
        )
    if names == ["all"]:
        return tuple(known)
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ConfigError(
            f"unknown backend {', '.join(map(repr, unknown))}; valid backends: "
            f"{', '.join(known)} (comma-separated) or 'all'"
        )
    return tuple(dict.fromkeys(names))  # keep order, drop repeats


def parse_bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"expected true or false (1/0, yes/no, on/off), not {value!r}")


def parse_launcher(value: str, known: Iterable[str]) -> str:
    valid = list(dict.fromkeys(["auto", *LAUNCHERS[1:], *known]))
    name = value.strip().lower()
    if name not in valid:
        raise ConfigError(f"unknown launcher {value!r}; valid launchers: {', '.join(valid)}")
    return name


def parse_pairs(values: Iterable[str], flag: str, known: Sequence[str]) -> dict[str, str]:
    """Parse repeated ``BACKEND=VALUE`` command-line values."""
    result: dict[str, str] = {}
    for raw in values:
        backend, sep, value = raw.partition("=")
        backend = backend.strip().lower()
        if not sep or not value.strip():
            raise ConfigError(
                f"{flag} takes BACKEND=VALUE (e.g. {flag} postgresql=...), not {raw!r}"
            )
        if backend not in known:
            raise ConfigError(
                f"{flag}: unknown backend {backend!r}; valid backends: {', '.join(known)}"
            )
        result[backend] = value.strip()
    return result


def _first(
    sources: Sources, cli_key: str, env_key: str | None, ini_key: str | None
) -> tuple[str | None, str]:
    """The first value given, and where it came from."""
    cli_value = sources.cli.get(cli_key)
    if cli_value not in (None, "", []):
        return str(cli_value), f"--{cli_key.replace('_', '-')}"
    if env_key and sources.env.get(env_key, "").strip():
        return sources.env[env_key], f"env {env_key}"
    if ini_key:
        ini_value = sources.ini(ini_key)
        if isinstance(ini_value, str) and ini_value.strip():
            return ini_value.strip(), f"ini {ini_key}"
    return None, "default"


def resolve(
    sources: Sources, *, backends: Sequence[str], launchers: Iterable[str]
) -> HarnessConfig:
    """Resolve and validate every setting; raise `ConfigError` with the valid choices."""
    origin: dict[str, str] = {}
    raw_backends, origin["backends"] = _first(
        sources, "harness_backends", "HARNESS_BACKENDS", "harness_backends"
    )
    try:
        chosen = (
            parse_backends(raw_backends, backends) if raw_backends is not None else DEFAULT_BACKENDS
        )
    except ConfigError as exc:
        raise ConfigError(f"{origin['backends']}: {exc}") from None

    raw_launcher, origin["launcher"] = _first(
        sources, "harness_launcher", "HARNESS_LAUNCHER", "harness_launcher"
    )
    try:
        launcher = parse_launcher(raw_launcher or DEFAULT_LAUNCHER, launchers)
    except ConfigError as exc:
        raise ConfigError(f"{origin['launcher']}: {exc}") from None

    backend_options: dict[str, dict[str, str]] = {}
    for option, (flag, _) in BACKEND_OPTIONS.items():
        cli_values = sources.cli.get(f"harness_{option}") or []
        assert isinstance(cli_values, list)
        from_cli = parse_pairs(cli_values, flag, backends)
        for backend in backends:
            env_key = f"HARNESS_{backend.upper()}_{option.upper()}"
            ini_key = f"harness_{option}_{backend}"
            value: str | None
            if backend in from_cli:
                value, where = from_cli[backend], flag
            else:
                value, where = _first(sources, "", env_key, ini_key)
            if value is not None:
                backend_options.setdefault(backend, {})[option] = value
                origin[f"{option}_{backend}"] = where

    def ini(key: str) -> str | None:
        value = sources.ini(key)
        if isinstance(value, str) and value.strip():
            origin[key.removeprefix("harness_")] = f"ini {key}"
            return value.strip()
        return None

    raw_checks, origin["migration_checks"] = _first(
        sources, "harness_migration_checks", "HARNESS_MIGRATION_CHECKS", "harness_migration_checks"
    )
    try:
        migration_checks = parse_bool(raw_checks) if raw_checks is not None else False
    except ConfigError as exc:
        raise ConfigError(f"{origin['migration_checks']}: {exc}") from None

    reuse, reuse_drop = _resolve_reuse(sources, origin)
    dependencies = ini("harness_session_dependency")
    wiring = (ini("harness_wiring") or WIRINGS[0]).lower()
    if wiring not in WIRINGS:
        raise ConfigError(f"ini harness_wiring: {wiring!r} is not one of {', '.join(WIRINGS)}")
    lifespan = (ini("harness_lifespan") or LIFESPANS[0]).lower()
    if lifespan not in LIFESPANS:
        raise ConfigError(
            f"ini harness_lifespan: {lifespan!r} is not one of {', '.join(LIFESPANS)}"
        )
    nplusone = (ini("harness_nplusone") or NPLUSONE[0]).lower()
    if nplusone not in NPLUSONE:
        raise ConfigError(f"ini harness_nplusone: {nplusone!r} is not one of {', '.join(NPLUSONE)}")
    raw_threshold = ini("harness_nplusone_threshold")
    try:
        threshold = int(raw_threshold) if raw_threshold else DEFAULT_NPLUSONE_THRESHOLD
        if threshold < 1:
            raise ValueError
    except ValueError:
        raise ConfigError(
            f"ini harness_nplusone_threshold: expected a whole number of at least 1, "
            f"not {raw_threshold!r}"
        ) from None
    raw_timeout = ini("harness_lock_timeout")
    try:
        lock_timeout = float(raw_timeout) if raw_timeout else DEFAULT_LOCK_TIMEOUT
        if not lock_timeout >= 0:
            raise ValueError
    except ValueError:
        raise ConfigError(
            f"ini harness_lock_timeout: expected seconds (0 or more, 0 for no limit), "
            f"not {raw_timeout!r}"
        ) from None
    url_env = ini("harness_url_env")
    return HarnessConfig(
        backends=chosen,
        launcher=launcher,
        backend_options=backend_options,
        app=ini("harness_app"),
        session_dependencies=tuple(_split(dependencies)) if dependencies else (),
        sessionmaker=ini("harness_sessionmaker"),
        wiring=wiring,
        lifespan=lifespan,
        nplusone=nplusone,
        nplusone_threshold=threshold,
        lock_timeout=lock_timeout,
        url_env=tuple(_split(url_env)) if url_env else (),
        alembic_ini=ini("harness_alembic_ini"),
        metadata=ini("harness_metadata"),
        migration_checks=migration_checks,
        origin=origin,
        reuse=reuse,
        reuse_drop=reuse_drop,
    )


def _resolve_reuse(sources: Sources, origin: dict[str, str]) -> tuple[bool, bool]:
    """``--harness-reuse`` (env ``HARNESS_REUSE``, ini ``harness_reuse``): a boolean, or
    ``drop``; and ``--harness-reuse-drop``. Returns (reuse, drop)."""
    raw, origin["reuse"] = _first(sources, "harness_reuse", "HARNESS_REUSE", "harness_reuse")
    drop = raw is not None and raw.strip().lower() == "drop"
    try:
        reuse = parse_bool(raw) if raw is not None and not drop else False
    except ConfigError as exc:
        raise ConfigError(f"{origin['reuse']}: {exc} (or drop)") from None
    if sources.cli.get("harness_reuse_drop"):
        drop = True
        origin["reuse_drop"] = "--harness-reuse-drop"
    elif drop:
        origin["reuse_drop"] = origin["reuse"]
    return reuse, drop
