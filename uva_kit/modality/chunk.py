"""A chunk of per-step signals spread over the sequence: the action chunk (actions; a force plugin's
forces), or one value per history frame (proprioception).

Each of the ``length`` steps is projected to the backbone width and repeated grid.length / length
times along the sequence (16 actions x 64 = 1024 positions at paper scale), so step k fills
consecutive positions of frame k * frames // length. Values are min/max normalized by the
modality's own ``normalizer`` (saved with the model).
"""

from __future__ import annotations

import torch
from torch import nn

from uva_kit.errors import InputError
from uva_kit.modality.base import Modality, ModalityContext, absent_vector
from uva_kit.model.normalizer import RangeNormalizer


class ChunkModality(Modality):
    def __init__(self, name: str, *, data_key: str, dim: int, length: int, head_spec, context: ModalityContext):
        super().__init__(name)
        if context.grid.length % length:
            raise InputError(
                f"modality '{name}': the token grid has {context.grid.length} positions, which is not a multiple of "
                f"the chunk length {length}; change layout.action_chunk or the image size"
            )
        self.data_key = data_key
        self.streams = (name,)
        self.dim = dim
        self.length = length
        self.repeats = context.grid.length // length
        self.proj = nn.Linear(dim, context.width)
        nn.init.xavier_uniform_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)
        self.absent = absent_vector(context.width)
        self.normalizer = RangeNormalizer(dim)
        if head_spec is not None:
            self.head = context.build_head(head_spec, dim, length)

    def prepare(self, value: torch.Tensor) -> torch.Tensor:
        if value.dim() != 3 or value.shape[1:] != (self.length, self.dim):
            raise InputError(f"'{self.data_key}' must be (B, {self.length}, {self.dim}), got {tuple(value.shape)}")
        return self.normalizer.normalize(value)

    def restore(self, value: torch.Tensor) -> torch.Tensor:
        return self.normalizer.unnormalize(value)

    def embed(self, stream: str, data: torch.Tensor) -> torch.Tensor:
        return self.proj(data).repeat_interleave(self.repeats, dim=1)

    def absent_token(self, stream: str) -> torch.Tensor:
        return self.absent
