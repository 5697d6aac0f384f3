"""The registry of backends and launchers: built-ins and third parties join through one call."""

from __future__ import annotations

from harness.backends.base import Backend
from harness.errors import ConfigError
from harness.launchers.base import Launcher

Component = Backend | Launcher

#: the entry-point group third-party packages use; each entry point names a callable
#: ``register(registry: harness.Registry) -> None``
ENTRY_POINT_GROUP = "harness"

#: the order in which ``--harness-launcher=auto`` tries launchers for a server backend
AUTO_ORDER = ("containers", "local")


class Registry:
    """Backends by name, launchers by (launcher name, backend name)."""

    def __init__(self) -> None:
        self.backends: dict[str, Backend] = {}
        self.launchers: dict[tuple[str, str], Launcher] = {}

    def register(self, component: Component) -> None:
        """Add a backend or a launcher; a later registration replaces an earlier one."""
        kind = getattr(component, "kind", None)
        if kind == "backend" and isinstance(component, Backend):
            self.backends[component.name] = component
        elif kind == "launcher" and isinstance(component, Launcher):
            for backend_name in component.backends:
                self.launchers[(component.name, backend_name)] = component
        else:
            raise TypeError(
                f"harness: cannot register {component!r}: it must implement "
                "harness.Backend (kind = 'backend') or harness.Launcher (kind = 'launcher')"
            )

    def backend(self, name: str) -> Backend:
        try:
            return self.backends[name]
        except KeyError:
            raise ConfigError(
                f"unknown backend {name!r}; known backends: {', '.join(sorted(self.backends))}"
            ) from None

    def launcher_names(self) -> list[str]:
        return sorted({name for name, _ in self.launchers})

    def launcher(self, name: str, backend: str) -> Launcher | None:
        return self.launchers.get((name, backend))

    def launchers_for(self, backend: str) -> list[Launcher]:
        """The launchers that serve *backend*, in the order ``auto`` tries them."""
        found = [launcher for (_, b), launcher in self.launchers.items() if b == backend]
        rank = {name: i for i, name in enumerate(AUTO_ORDER)}
        return sorted(found, key=lambda launcher: rank.get(launcher.name, len(rank)))


def __getattr__(name: str) -> object:
    # ``harness.registry.default_registry`` was its first home; the built-ins now import this
    # module, so the function that imports them lives in `harness.builtins`.
    if name == "default_registry":
        from harness.builtins import default_registry

        return default_registry
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
