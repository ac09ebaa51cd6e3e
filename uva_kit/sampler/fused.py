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
    def _fake(noise, generator, modulations, coefficients, input_weight, input_bias, hidden_weights, hidden_biases,
              output_weight, output_bias, *flags):
        # the shape and dtype checks of csrc/adaln_sample.h, so that tracing fails where the op would
        def check(condition, message):
            torch._check(condition, lambda: f"uva_kit::adaln_sample: {message}")

        tensors = [modulations, coefficients, input_weight, input_bias, *hidden_weights, *hidden_biases, output_weight,
                   output_bias, *([] if noise is None else [noise])]
        check(all(t.dtype == torch.float32 for t in tensors), "every tensor must be float32")
        check(input_weight.dim() == 2, f"the input weight must be (width, C), got {tuple(input_weight.shape)}")
        (width, channels), depth = input_weight.shape, len(hidden_weights) // 2
        check(depth > 0 and len(hidden_weights) % 2 == 0 and len(hidden_biases) == len(hidden_weights),
              "need 2 * depth hidden weights (W1_0, W2_0, ...) and as many biases")
        check(modulations.dim() == 4 and modulations.shape[0] == depth + 1 and modulations.shape[3] == 3 * width,
              f"modulations must be (depth + 1, S, N, 3 * width), got {tuple(modulations.shape)}")
        steps, rows = modulations.shape[1:3]
        check(tuple(coefficients.shape) == (steps, 7), f"coefficients must be ({steps}, 7), got {tuple(coefficients.shape)}")
        if noise is not None:
            check(tuple(noise.shape) == (steps + 1, rows, channels),
                  f"noise must be (S + 1, N, C) = ({steps + 1}, {rows}, {channels}), got {tuple(noise.shape)}")
        return modulations.new_empty((rows, channels))


_register_fake()
