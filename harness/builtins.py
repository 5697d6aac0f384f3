"""The default registry: the built-in backends and launchers, then the installed third-party ones.

The built-ins import only `harness.registry` (the interface); this module imports them, so
there is no circle. Entry points are read once per process, however often a registry is made.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from importlib.metadata import entry_points

from harness.backends import mysql, postgresql, sqlite
from harness.launchers import containers, external, local_mysql, local_postgresql
from harness.registry import ENTRY_POINT_GROUP, Registry

Registrar = Callable[[Registry], None]

BUILTIN_REGISTRARS: tuple[Registrar, ...] = (
    sqlite.register,
    postgresql.register,
    mysql.register,
    external.register,
    local_postgresql.register,
    local_mysql.register,
    containers.register,
)


@functools.cache
def entry_point_registrars() -> tuple[Registrar, ...]:
    """The ``register`` callables of the ``harness`` entry-point group, loaded once."""
    return tuple(ep.load() for ep in entry_points(group=ENTRY_POINT_GROUP))


def default_registry(*, load_entry_points: bool = True) -> Registry:
    """A registry with the built-in backends and launchers, then any installed third-party ones."""
    registry = Registry()
    for register in BUILTIN_REGISTRARS:
        register(registry)
    if load_entry_points:
        for register in entry_point_registrars():
            register(registry)
    return registry
