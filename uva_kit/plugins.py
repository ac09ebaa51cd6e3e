"""Plugin discovery through pluggy and the ``uva_kit.plugins`` entry-point group.

The built-in components are a plugin like any other (``uva_kit.builtin_plugin``). A plugin that
fails to import or to register is recorded with its name, distribution and error, its partial
registrations are undone, and everything else keeps working. Set
``UVA_KIT_DISABLE_PLUGIN_AUTOLOAD=1`` to load the built-ins only.
"""

from __future__ import annotations

import os
import traceback
from importlib import metadata
from pathlib import Path

import attrs
import pluggy

from uva_kit import hookspecs
from uva_kit.errors import InputError
from uva_kit.registry import Provider, Registry

ENTRY_POINT_GROUP = "uva_kit.plugins"
DISABLE_AUTOLOAD_ENV = "UVA_KIT_DISABLE_PLUGIN_AUTOLOAD"
BUILTIN_PLUGIN = "builtin"


@attrs.frozen
class PluginReport:
    """What happened to one plugin: what it provides, or why it failed."""

    provider: Provider
    components: tuple[tuple[str, str], ...] = ()
    presets: tuple[str, ...] = ()
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


_reports: list[PluginReport] = []
_presets: dict[str, Path] = {}


def autoload_enabled() -> bool:
    return os.environ.get(DISABLE_AUTOLOAD_ENV, "").strip().lower() not in ("1", "true", "yes", "on")


def forget() -> None:
    """Drop what the last discovery recorded (used by ``uva_kit.registry.reload``)."""
    _reports.clear()
    _presets.clear()


def reports() -> list[PluginReport]:
    """One report per plugin seen by the last discovery, the built-ins first."""
    from uva_kit.registry import default_registry

    default_registry()
    return list(_reports)


def presets() -> dict[str, Path]:
    """Preset name -> spec file, from the built-ins and every working plugin."""
    from uva_kit.registry import default_registry

    default_registry()
    return dict(_presets)


def _entry_point_plugins() -> list[tuple[Provider, object]]:
    """(provider, plugin object or the exception raised while importing it) per entry point."""
    found = []
    for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = entry_point.dist
        provider = Provider(entry_point.name, dist.name if dist else None, dist.version if dist else None)
        try:
            found.append((provider, entry_point.load()))
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not break uva_kit
            found.append((provider, exc))
    return found


def load_plugins(registry: Registry) -> list[PluginReport]:
    """Register the built-ins and, unless disabled, every entry-point plugin into ``registry``."""
    from uva_kit import __version__, builtin_plugin

    forget()
    candidates: list[tuple[Provider, object]] = [(Provider(BUILTIN_PLUGIN, "uva_kit", __version__), builtin_plugin)]
    if autoload_enabled():
        candidates += _entry_point_plugins()
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    for provider, plugin in candidates:
        _reports.append(_load_one(manager, registry, provider, plugin))
    return list(_reports)


def _load_one(manager: pluggy.PluginManager, registry: Registry, provider: Provider, plugin: object) -> PluginReport:
    if isinstance(plugin, Exception):
        return PluginReport(provider, error=f"import failed: {_describe(plugin)}")
    try:
        manager.register(plugin, name=provider.plugin)
        with registry.providing(provider):
            for impl in manager.hook.uva_kit_register.get_hookimpls():
                if impl.plugin is plugin:
                    impl.function(registry=registry)
            shipped = _collect_presets(manager, plugin)
    except Exception as exc:  # noqa: BLE001 - isolate the failure, keep the other plugins
        if manager.is_registered(plugin):
            manager.unregister(plugin)
        return PluginReport(provider, error=f"registration failed: {_describe(exc)}")
    _presets.update(shipped)
    components = tuple((c.slot, c.name) for c in registry.provided_by(provider.plugin))
    return PluginReport(provider, components, tuple(sorted(shipped)))


def _collect_presets(manager: pluggy.PluginManager, plugin: object) -> dict[str, Path]:
    shipped: dict[str, Path] = {}
    for impl in manager.hook.uva_kit_presets.get_hookimpls():
        if impl.plugin is not plugin:
            continue
        for name, path in (impl.function() or {}).items():
            if name in _presets or name in shipped:
                raise InputError(f"preset '{name}' is already provided by another plugin")
            shipped[name] = Path(path)
    return shipped


def _describe(exc: BaseException) -> str:
    where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    location = f" (at {Path(where.filename).name}:{where.lineno})" if where else ""
    return f"{type(exc).__name__}: {exc}{location}"
