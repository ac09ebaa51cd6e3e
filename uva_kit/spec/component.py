"""The base class of component specs and the ``slot`` field helper.

Every component slot in a spec is a tagged union: a table whose ``type`` names a registered
component and whose other keys are that component's options::

    [backbone]
    type = "mar"
    depth = 2
"""

from __future__ import annotations

from typing import Any

import attrs

from uva_kit.errors import InputError

SLOT_METADATA_KEY = "uva_kit_slot"


@attrs.frozen
class ComponentSpec:
    """Base of every component spec. ``type`` is the registered name the spec was parsed for."""

    type: str = attrs.field(kw_only=True)


def default_component(slot_name: str, type_name: str) -> ComponentSpec:
    """The registered component's spec with its defaults (``{type = type_name}``)."""
    from uva_kit.registry import default_registry

    return default_registry().get(slot_name, type_name).default_spec()


def slot(name: str, default: str | tuple[str, ...] | None = None, *, many: bool = False, optional: bool = False) -> Any:
    """An attrs field holding the spec of a component of slot ``name``.

    ``default`` names the registered type(s) used when the key is absent; ``many`` makes the field
    a tuple of components; ``optional`` allows ``None`` (absent).
    """
    metadata = {SLOT_METADATA_KEY: name}
    if many:
        names = tuple(default or ())
        factory = attrs.Factory(lambda: tuple(default_component(name, n) for n in names))
        return attrs.field(default=factory, metadata=metadata)
    if optional:
        if default is not None:
            raise InputError("an optional slot defaults to None")
        return attrs.field(default=None, metadata=metadata)
    if default is None:
        return attrs.field(metadata=metadata)
    return attrs.field(default=attrs.Factory(lambda: default_component(name, default)), metadata=metadata)
