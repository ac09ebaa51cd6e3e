"""Fused AdaLN modulation: ``LayerNorm(x) * (1 + scale) + shift`` (LayerNorm without affine).

This is the modulation inside every block of the diffusion heads' SimpleMLPAdaLN.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from uva_kit.ops.extension import has_op

OP_NAME = "adaln_modulate"


def adaln_modulate_reference(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """The PyTorch reference (differentiable, any device and dtype)."""
    return F.layer_norm(x, x.shape[-1:], eps=eps) * (1 + scale) + shift


def adaln_modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """The fused C++ op where it applies (built, fp32 CPU, no autograd needed); else the reference."""
    needs_grad = torch.is_grad_enabled() and (x.requires_grad or shift.requires_grad or scale.requires_grad)
    if (
        not needs_grad
        and x.device.type == "cpu"
        and x.dtype == shift.dtype == scale.dtype == torch.float32
        and shift.shape == x.shape == scale.shape
        and x.dim() > 0
        and x.shape[-1] > 0
        and has_op(OP_NAME)
    ):
        return torch.ops.uva_kit.adaln_modulate(x, shift, scale, eps)
    return adaln_modulate_reference(x, shift, scale, eps)


def _register_fake() -> None:
    """Shape-only (meta) implementation so torch.compile and graph capture can trace the op."""
    if not has_op(OP_NAME):
        return

    @torch.library.register_fake(f"uva_kit::{OP_NAME}")
    def _fake(x, shift, scale, eps):
        # the real op's checks, and its output: contiguous whatever the strides of x
        torch._check(shift.shape == x.shape == scale.shape, lambda: "uva_kit::adaln_modulate: shift and scale must have the shape of x")
        torch._check(x.dtype == shift.dtype == scale.dtype == torch.float32, lambda: "uva_kit::adaln_modulate: x, shift and scale must be float32")
        return x.new_empty(x.shape)


_register_fake()
