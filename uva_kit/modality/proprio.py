"""``proprio``: the robot's proprioception at each history frame (PushT: the agent position) as an input stream.

The original UVA has this slot on UMI (a projected state repeated over the positions of its frame);
its PushT model is vision-only. Each history frame's (dim,) value is min/max normalized (range from
the dataset statistics of ``data_key``, saved with the model), projected to the backbone width and
repeated over that frame's tokens. No head: proprioception is observed, never predicted.
``uva_kit.Policy`` reads it from ``obs[data_key]`` at every step.
"""

from __future__ import annotations

import attrs
import torch
from torch import nn

from uva_kit.modality.base import Modality, ModalityContext, absent_vector
from uva_kit.model.normalizer import RangeNormalizer
from uva_kit.spec import ComponentSpec
from uva_kit.spec.validators import positive


@attrs.frozen
class ProprioSpec(ComponentSpec):
    """``data_key``: the per-frame batch and observation key; ``dim``: its size (2 for PushT's agent_pos)."""

    data_key: str = "agent_pos"
    dim: int = attrs.field(default=2, validator=positive)


class ProprioModality(Modality):
    def __init__(self, spec: ProprioSpec, *, context: ModalityContext):
        super().__init__(spec.type)
        self.data_key = spec.data_key
        self.streams = (spec.type,)
        self.frames = context.grid.frames
        self.dim = spec.dim
        self.repeats = context.grid.tokens_per_frame
        self.proj = nn.Linear(spec.dim, context.width)
        nn.init.xavier_uniform_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)
        self.absent = absent_vector(context.width)
        self.normalizer = RangeNormalizer(spec.dim)

    def prepare(self, value: torch.Tensor) -> torch.Tensor:
        if value.dim() != 3 or value.shape[1:] != (self.frames, self.dim):
            raise ValueError(f"'{self.data_key}' must be (B, {self.frames}, {self.dim}): one value per history frame, "
                             f"got {tuple(value.shape)}")
        return self.normalizer.normalize(value)

    def restore(self, value: torch.Tensor) -> torch.Tensor:
        return self.normalizer.unnormalize(value)

    def embed(self, stream: str, data: torch.Tensor) -> torch.Tensor:
        return self.proj(data).repeat_interleave(self.repeats, dim=1)

    def absent_token(self, stream: str) -> torch.Tensor:
        return self.absent
