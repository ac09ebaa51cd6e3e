"""Weights packed once for the CPU sampler's GEMMs: reordered for oneDNN, or in panels for the extension.

PyTorch's fp32 ``F.linear`` on the CPU calls MKL's sgemm; oneDNN picks its kernels by instruction set
(its verbose log reports AVX-512 on the CI machine's AMD EPYC). With the weight reordered once into
oneDNN's blocked layout, the sampler's GEMMs (width 1024) run 1.7x faster there than sgemm at 16 rows
and 1.2x at 256 (benchmarks/RESULTS.md), with the same fp32 accuracy (relative error ~2e-7, as sgemm's).
Where PyTorch was built without oneDNN (or off the CPU, or not in fp32) callers use ``F.linear``.

The fused sampler's hidden GEMMs at 16 or 32 rows (a batch-1 or batch-2 policy call's action rows) run
faster still on the extension's panel kernel (csrc/panel_linear.cpp, AVX-512 CPUs), which takes its
weight in 16-output panels (``pack_panels``); ``hidden_packing`` picks the packing.
"""

from __future__ import annotations

import torch

from uva_kit.ops.extension import has_op

PANEL_ROWS = (16, 32)  # row counts at which the panel kernel beat oneDNN, on 1 and 2 threads (RESULTS.md)


def packed_linear_available(device: torch.device | str, dtype: torch.dtype) -> bool:
    """Whether ``pack_weight``/``packed_linear`` can run for tensors on ``device`` in ``dtype``."""
    return (torch.device(device).type == "cpu" and dtype == torch.float32 and torch.backends.mkldnn.is_available()
            and hasattr(torch.ops.mkldnn, "_linear_pointwise") and hasattr(torch.ops.mkldnn, "_reorder_linear_weight"))


def pack_weight(weight: torch.Tensor) -> torch.Tensor:
    """An (out, in) Linear weight reordered for oneDNN (an opaque ``torch._mkldnn`` tensor)."""
    return torch.ops.mkldnn._reorder_linear_weight(weight.detach().contiguous(), None)


def packed_linear(x: torch.Tensor, packed: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``F.linear(x, weight, bias)`` for x (N, in) with the weight from ``pack_weight``."""
    return torch.ops.mkldnn._linear_pointwise(x, packed, bias, "none", [], "")


def hidden_packing(rows: int, width: int) -> str:
    """``"panels"`` or ``"onednn"``: how to pack the fused sampler's (width, width) hidden weights for ``rows``.

    Panels need the extension and ATen's AVX-512 kernels (the panel kernel is compiled for AVX-512 only).
    """
    avx512 = torch.backends.cpu.get_cpu_capability() == "AVX512"
    return "panels" if rows in PANEL_ROWS and width % 16 == 0 and avx512 and has_op("pack_linear_panels") else "onednn"


def pack_panels(weight: torch.Tensor) -> torch.Tensor:
    """An (out, in) weight as (out / 16, in, 16) panels of 16 outputs, for the extension's panel kernel."""
    return torch.ops.uva_kit.pack_linear_panels(weight.detach())
