"""``math``: explicit softmax(Q K^T / sqrt(d)) V, accumulated in fp32. The reference for other backends."""

from __future__ import annotations

import attrs
import torch
import torch.nn.functional as F

from uva_kit.attention.base import AttentionBackend
from uva_kit.spec import ComponentSpec


@attrs.frozen
class MathSpec(ComponentSpec):
    """No options."""


class MathAttention(AttentionBackend):
    name = "math"

    def __init__(self, spec: MathSpec | None = None):
        super().__init__()

    def forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, dropout_p: float = 0.0) -> torch.Tensor:
        self.check_shapes(query, key, value)
        scale = query.shape[-1] ** -0.5
        scores = torch.matmul(query.float() * scale, key.float().transpose(-2, -1))
        weights = F.dropout(scores.softmax(dim=-1), p=dropout_p, training=dropout_p > 0)
        return torch.matmul(weights, value.float()).to(query.dtype)
