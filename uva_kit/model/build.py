"""``uva_kit.build``: one verb that assembles a model from a spec (or a preset name / spec file)."""

from __future__ import annotations

from pathlib import Path

from uva_kit.spec import UVASpec, load_spec


def build(spec: UVASpec | str | Path):
    """A ``UVAModel`` (a torch.nn.Module) with every component built from the registries."""
    from uva_kit.model.uva import UVAModel

    if not isinstance(spec, UVASpec):
        spec = load_spec(spec)
    return UVAModel(spec)
