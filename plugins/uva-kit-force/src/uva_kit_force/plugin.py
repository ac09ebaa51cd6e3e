"""The plugin module named by the ``uva_kit.plugins`` entry point: registers ``force`` and its preset.

References are lazy strings, so discovering this plugin never imports torch.
"""

from __future__ import annotations

from pathlib import Path

from uva_kit import hookimpl

PRESET_DIR = Path(__file__).parent / "presets"


@hookimpl
def uva_kit_register(registry):
    registry.register(
        "modality", "force", spec="uva_kit_force.modality:ForceModalitySpec", factory="uva_kit_force.modality:ForceModality",
        description="contact force/impulse chunk aligned with the actions (key contact_impulse); a chunk diffusion head",
    )


@hookimpl
def uva_kit_presets():
    return {path.stem: path for path in sorted(PRESET_DIR.glob("*.toml"))}
