"""``sdpa``: torch's scaled_dot_product_attention, which picks flash or memory-efficient kernels on GPUs."""

from __future__ import annotations

import attrs
import torch
import torch.nn.functional as F

from uva_kit.attention.base import AttentionBackend
from uva_kit.spec import ComponentSpec


@attrs.frozen
class SdpaSpec(ComponentSpec):
    """No options: torch chooses the kernel for the device and dtype."""


class SdpaAttention(AttentionBackend):
    name = "sdpa"

    def __init__(self, spec: SdpaSpec | None = None):
        super().__init__()

    def forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, dropout_p: float = 0.0) -> torch.Tensor:
        self.check_shapes(query, key, value)
        return F.scaled_dot_product_attention(query, key, value, dropout_p=dropout_p)
