"""The hooks a uva_kit plugin can implement.

A plugin is a module (or object) with functions marked by :data:`uva_kit.hookimpl`, exposed through
the entry-point group ``uva_kit.plugins``::

    # pyproject.toml of your package
    [project.entry-points."uva_kit.plugins"]
    force = "uva_kit_force.plugin"

    # uva_kit_force/plugin.py
    from uva_kit import hookimpl

    @hookimpl
    def uva_kit_register(registry):
        registry.register("modality", "force", spec="uva_kit_force.modality:ForceModalitySpec",
                          factory="uva_kit_force.modality:ForceModality")

Built-in components register through the same hooks (``uva_kit/builtin_plugin.py``).
"""

from __future__ import annotations

import pluggy

PROJECT_NAME = "uva_kit"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def uva_kit_register(registry):
    """Register components with ``registry.register(slot, name, spec=..., factory=...)``.

    ``spec`` and ``factory`` may be objects or lazy ``"module:attribute"`` strings; strings keep
    heavy imports (torch) out of plugin discovery. If this hook raises, every component it
    registered is removed again and the failure is reported; other plugins keep working.
    """


@hookspec
def uva_kit_presets():
    """Return a mapping of preset name to a .toml/.yaml/.json spec file this plugin ships."""
