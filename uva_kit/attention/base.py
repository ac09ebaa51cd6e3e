"""What every attention backend provides: a capability check and the attention itself."""

from __future__ import annotations

import torch

from uva_kit.errors import InputError


class AttentionBackend(torch.nn.Module):
    """Bidirectional attention over (B, heads, L, head_dim) tensors; subclasses set ``name``."""

    name = "abstract"

    def unsupported_reason(self, query: torch.Tensor) -> str | None:
        """None when this backend can run on ``query``'s device, dtype and head size; else why not."""
        return None

    def forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, dropout_p: float = 0.0) -> torch.Tensor:
        raise NotImplementedError

    @staticmethod
    def check_shapes(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> None:
        if query.dim() != 4 or key.shape != value.shape or query.shape[:2] != key.shape[:2] or query.shape[-1] != key.shape[-1]:
            raise InputError(
                "attention expects query (B, heads, Lq, D) and key/value (B, heads, Lk, D); got "
                f"{tuple(query.shape)}, {tuple(key.shape)}, {tuple(value.shape)}"
            )
