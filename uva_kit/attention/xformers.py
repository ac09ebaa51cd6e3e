"""``xformers``: xFormers' memory-efficient attention (CUDA), when installed."""

from __future__ import annotations

import importlib.util

import attrs
import torch

from uva_kit.attention.base import AttentionBackend
from uva_kit.spec import ComponentSpec


@attrs.frozen
class XformersSpec(ComponentSpec):
    """No options."""


class XformersAttention(AttentionBackend):
    name = "xformers"

    def __init__(self, spec: XformersSpec | None = None):
        super().__init__()

    def unsupported_reason(self, query: torch.Tensor) -> str | None:
        if importlib.util.find_spec("xformers") is None:
            return "xformers is not installed (pip install xformers)"
        if query.device.type != "cuda":
            return f"needs a CUDA device, got {query.device.type}"
        return None

    def forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, dropout_p: float = 0.0) -> torch.Tensor:
        from xformers.ops import memory_efficient_attention

        self.check_shapes(query, key, value)
        out = memory_efficient_attention(query.transpose(1, 2), key.transpose(1, 2), value.transpose(1, 2), p=dropout_p)
        return out.transpose(1, 2)
