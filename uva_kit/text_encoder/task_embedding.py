"""``task_embedding``: a learned vector per instruction (no language model).

With ``instructions`` listed, each has its own row and an unknown instruction is an error. Without,
an instruction's row is chosen by a stable hash into ``buckets`` rows (different instructions may
share a row; list them to rule that out).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import attrs
import torch
from torch import nn

from uva_kit.errors import InputError, choices_hint
from uva_kit.spec import ComponentSpec
from uva_kit.spec.validators import positive


@attrs.frozen
class TaskEmbeddingSpec(ComponentSpec):
    dim: int = attrs.field(default=512, validator=positive)
    instructions: tuple[str, ...] = ()
    buckets: int = attrs.field(default=256, validator=positive)


def normalize_instruction(text: str) -> str:
    return " ".join(text.lower().split())


class TaskEmbedding(nn.Module):
    def __init__(self, spec: TaskEmbeddingSpec):
        super().__init__()
        self.output_dim = spec.dim
        self.instructions = tuple(normalize_instruction(t) for t in spec.instructions)
        self.buckets = spec.buckets
        self.table = nn.Embedding(len(self.instructions) or spec.buckets, spec.dim)
        nn.init.normal_(self.table.weight, std=0.02)

    def index(self, text: str) -> int:
        key = normalize_instruction(text)
        if self.instructions:
            if key not in self.instructions:
                raise InputError(f"unknown instruction {text!r}." + choices_hint(key, self.instructions))
            return self.instructions.index(key)
        return int.from_bytes(hashlib.sha1(key.encode()).digest()[:8], "little") % self.buckets

    def forward(self, instructions: Sequence[str]) -> torch.Tensor:
        indices = torch.tensor([self.index(t) for t in instructions], device=self.table.weight.device)
        return self.table(indices)
