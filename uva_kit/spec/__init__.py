"""Specs: frozen attrs classes parsed strictly from presets and .toml/.yaml/.json files."""

from uva_kit.spec.component import ComponentSpec, slot
from uva_kit.spec.loading import as_spec, load_spec, preset_names, read_spec_file, spec_from_dict
from uva_kit.spec.migrations import CURRENT_SPEC_VERSION, MIGRATIONS
from uva_kit.spec.model import DiffusionSpec, LayoutSpec, ModeWeight, UVASpec
from uva_kit.spec.parse import apply_overrides, from_dict, to_dict
from uva_kit.spec.training import TrainingSpec

__all__ = [
    "CURRENT_SPEC_VERSION",
    "MIGRATIONS",
    "ComponentSpec",
    "DiffusionSpec",
    "LayoutSpec",
    "TrainingSpec",
    "ModeWeight",
    "UVASpec",
    "apply_overrides",
    "as_spec",
    "from_dict",
    "load_spec",
    "preset_names",
    "read_spec_file",
    "slot",
    "spec_from_dict",
    "to_dict",
]
