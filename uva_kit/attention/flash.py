"""``flash``: FlashAttention 2 through the flash-attn package (CUDA, fp16/bf16), when installed."""

from __future__ import annotations

import importlib.util

import attrs
import torch

from uva_kit.attention.base import AttentionBackend
from uva_kit.spec import ComponentSpec


@attrs.frozen
class FlashSpec(ComponentSpec):
    """No options."""


class FlashAttention(AttentionBackend):
    name = "flash"

    def __init__(self, spec: FlashSpec | None = None):
        super().__init__()

    def unsupported_reason(self, query: torch.Tensor) -> str | None:
        if importlib.util.find_spec("flash_attn") is None:
            return "flash-attn is not installed (pip install flash-attn)"
        if query.device.type != "cuda":
            return f"needs a CUDA device, got {query.device.type}"
        if query.dtype not in (torch.float16, torch.bfloat16):
            return f"needs fp16 or bf16 inputs, got {query.dtype} (run under autocast)"
        if query.shape[-1] > 256 or query.shape[-1] % 8:
            return f"needs a head size that is a multiple of 8 and at most 256, got {query.shape[-1]}"
        return None

    def forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, dropout_p: float = 0.0) -> torch.Tensor:
        from flash_attn import flash_attn_func

        self.check_shapes(query, key, value)
        out = flash_attn_func(query.transpose(1, 2), key.transpose(1, 2), value.transpose(1, 2), dropout_p=dropout_p)
        return out.transpose(1, 2)
