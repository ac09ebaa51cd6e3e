"""``uva_kit.build``: one verb that assembles a model from a spec (or a preset name / spec file)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from uva_kit.spec import UVASpec, as_spec

if TYPE_CHECKING:  # pragma: no cover
    from uva_kit.model.uva import UVAModel


def build(spec: UVASpec | str | Path) -> UVAModel:
    """A ``UVAModel`` (a torch.nn.Module) with every component built from the registries.

    ``spec`` is a ``UVASpec`` or what ``load_spec`` takes (a preset name, a spec file). The model is new: random
    weights (a pretrained encoder's from ``encoder.checkpoint``), float32 on the CPU, in train mode, with
    identity normalizers until trained (``uva_kit.train.fit``) or loaded (``uva_kit.load``).
    """
    from uva_kit.model.uva import UVAModel

    return UVAModel(as_spec(spec))
