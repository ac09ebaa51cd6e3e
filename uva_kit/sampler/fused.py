"""The fused sampling loop: ``torch.ops.uva_kit.adaln_sample`` (csrc/adaln_sample.cpp on the CPU,
csrc/cuda/ on CUDA) runs every step of ``restructured_sample`` in one call on ``PreparedSampling``."""

from __future__ import annotations

import torch

from uva_kit.ops.extension import has_op
from uva_kit.sampler.restructured import PreparedSampling

OP_NAME = "adaln_sample"


def fused_unavailable_reason(device: torch.device, dtype: torch.dtype) -> str | None:
    """None when the fused op can run on ``device`` in ``dtype``; else why not."""
    if not has_op(OP_NAME):
        return "the C++ extension with the fused sampler is not built (see docs/kernels.md)"
    dispatch_key = {"cpu": "CPU", "cuda": "CUDA"}.get(torch.device(device).type)
    if dispatch_key is None or not torch._C._dispatch_has_kernel_for_dispatch_key(f"uva_kit::{OP_NAME}", dispatch_key):
        return f"the extension has no {torch.device(device).type} kernel for it"
    if dtype != torch.float32:
        return f"it runs in float32, got {dtype}"
    return None


def fused_sample(
    prepared: PreparedSampling, noise: torch.Tensor | None, *, clamp_x0: bool, learned_variance: bool,
    noise_scale: float, generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Same contract as ``restructured_sample``; with ``noise=None`` the op draws it from ``generator``."""
    p = prepared
    return torch.ops.uva_kit.adaln_sample(
        noise, generator, p.modulations, p.coefficients, p.input_weight, p.input_bias, list(p.hidden_weights),
        list(p.hidden_biases), p.output_weight, p.output_bias, list(p.packed_hidden_weights), clamp_x0,
        learned_variance, float(noise_scale),
    )


def _register_fake() -> None:
    """Shape-only implementation so torch.compile and graph capture can trace the op."""
    if not has_op(OP_NAME):
        return

    @torch.library.register_fake(f"uva_kit::{OP_NAME}")
    def _fake(noise, generator, modulations, coefficients, input_weight, *rest):
        return modulations.new_empty((modulations.shape[2], input_weight.shape[1]))


_register_fake()
