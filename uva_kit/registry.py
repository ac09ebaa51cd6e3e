"""One registry per component slot, filled by plugins (the built-ins included).

    uva_kit.registry.list("encoder")            # ['conv_vae', 'kl_f16', 'patch']
    uva_kit.registry.get("encoder", "patch")    # a Component: spec class, factory, provider

Spec classes and factories may be registered as lazy ``"module:attribute"`` strings, so listing
components never imports torch; the module is imported when the component is parsed or built.
"""

from __future__ import annotations

import builtins
import contextlib
import importlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

import attrs

from uva_kit.errors import RegistryError, choices_hint

SLOTS: tuple[str, ...] = (
    "encoder",
    "backbone",
    "modality",
    "head",
    "sampler",
    "masking",
    "mode",
    "attention",
    "text_encoder",
)


def resolve_reference(ref: Any) -> Any:
    """Import ``"package.module:attribute"`` (or return ``ref`` itself when it is not a string)."""
    if not isinstance(ref, str):
        return ref
    module_name, sep, attribute = ref.partition(":")
    if not sep or not module_name or not attribute:
        raise RegistryError(f"Invalid reference {ref!r}: expected 'package.module:attribute'.")
    module = importlib.import_module(module_name)
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise RegistryError(f"Module {module_name!r} has no attribute {attribute!r} (from {ref!r}).") from None


@attrs.frozen
class Provider:
    """Who registered a component: the plugin name and the distribution that ships it."""

    plugin: str
    distribution: str | None = None
    version: str | None = None

    def __str__(self) -> str:
        if self.distribution is None:
            return f"plugin '{self.plugin}'"
        return f"plugin '{self.plugin}' from {self.distribution} {self.version or ''}".rstrip()


@attrs.frozen
class Component:
    """A registered component: its slot and name, its spec class, its factory and who provided it."""

    slot: str
    name: str
    spec_ref: Any
    factory_ref: Any
    provider: Provider
    description: str = ""

    @property
    def spec_class(self) -> type:
        return resolve_reference(self.spec_ref)

    @property
    def factory(self) -> Callable[..., Any]:
        return resolve_reference(self.factory_ref)

    def default_spec(self):
        """The component's spec with every option at its default."""
        return self.spec_class(type=self.name)

    def build(self, spec=None, **context: Any) -> Any:
        """Build the component from its spec (the defaults when ``spec`` is None).

        ``context`` carries what the component needs from the rest of the model (see the slot
        contracts in docs/model.md), e.g. ``width=`` for a head.
        """
        return self.factory(self.default_spec() if spec is None else spec, **context)


class Registry:
    """Components by slot and name. Registering a name twice is an error naming both providers."""

    def __init__(self) -> None:
        self._components: dict[str, dict[str, Component]] = {slot: {} for slot in SLOTS}
        self._provider = Provider("direct")
        self._registered_now: builtins.list[tuple[str, str]] | None = None

    def register(self, slot: str, name: str, *, spec: Any, factory: Any, description: str = "") -> Component:
        """Register ``name`` in ``slot``; ``spec`` is an attrs class subclassing ComponentSpec."""
        self._check_slot(slot)
        if not isinstance(name, str) or not name.isidentifier():
            raise RegistryError(f"Component names must be identifiers, got {name!r} in slot '{slot}'.")
        existing = self._components[slot].get(name)
        if existing is not None:
            raise RegistryError(
                f"{slot} '{name}' is registered twice: by {existing.provider} and by {self._provider}. "
                "Rename one of them, or uninstall one of the plugins."
            )
        component = Component(slot, name, spec, factory, self._provider, description)
        self._components[slot][name] = component
        if self._registered_now is not None:
            self._registered_now.append((slot, name))
        return component

    def list(self, slot: str) -> builtins.list[str]:
        """The names registered in ``slot``, sorted."""
        self._check_slot(slot)
        return sorted(self._components[slot])

    def get(self, slot: str, name: str) -> Component:
        """The component ``name`` of ``slot``; an unknown name lists the registered ones."""
        self._check_slot(slot)
        try:
            return self._components[slot][name]
        except KeyError:
            raise RegistryError(
                f"Unknown {slot} '{name}'." + choices_hint(name, self._components[slot])
                + " Plugins add components: see `uva-kit plugins`."
            ) from None

    def components(self, slot: str | None = None) -> builtins.list[Component]:
        """Every registered component (of one slot, or of all), in slot then name order."""
        slots = SLOTS if slot is None else (slot,)
        return [self._components[s][n] for s in slots for n in self.list(s)]

    def provided_by(self, plugin: str) -> builtins.list[Component]:
        return [c for c in self.components() if c.provider.plugin == plugin]

    @contextlib.contextmanager
    def providing(self, provider: Provider) -> Iterator[None]:
        """Attribute registrations to ``provider``; if the block raises, undo them all."""
        previous, previous_log = self._provider, self._registered_now
        self._provider, self._registered_now = provider, []
        try:
            yield
        except BaseException:
            for slot, name in self._registered_now:
                del self._components[slot][name]
            raise
        finally:
            self._provider, self._registered_now = previous, previous_log

    def _check_slot(self, slot: str) -> None:
        if slot not in self._components:
            raise RegistryError(f"Unknown slot '{slot}'." + choices_hint(slot, SLOTS))


_default: Registry | None = None
_default_lock = threading.Lock()


def default_registry() -> Registry:
    """The process-wide registry, filled by the built-ins and the installed plugins on first use."""
    global _default
    with _default_lock:
        if _default is None:
            from uva_kit.plugins import load_plugins

            registry = Registry()
            load_plugins(registry)
            _default = registry
        return _default


def reload() -> Registry:
    """Forget the process-wide registry and discover the plugins again (e.g. after an install)."""
    global _default
    from uva_kit import plugins

    with _default_lock:
        _default = None
        plugins.forget()
    return default_registry()


def list(slot: str) -> builtins.list[str]:  # noqa: A001 - public API name fixed by DESIGN.md
    """The component names registered in ``slot``, one of ``SLOTS`` (encoder, backbone, modality, head, ...)."""
    return default_registry().list(slot)


def get(slot: str, name: str) -> Component:
    """The component ``name`` of ``slot``."""
    return default_registry().get(slot, name)
