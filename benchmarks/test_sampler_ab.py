"""A/B: the fused sampler against the reference loop at the real action-head size, gated on the median ratio.

Width 1024, depth 6, 16 steps, act_dim 2, 1 thread; the same weights and the same pre-drawn noise.
Each round runs the reference (A, timed here, in pytest-benchmark's untimed setup) and then the fused
op (B, timed by pytest-benchmark and here): ABAB... in one process. One ratio per round; the gate is
on the median. Targets and gates from issue 8: >= 2x at 16 rows, >= 3x at 1 row. Measured on the 2-core
CI machine (benchmarks/RESULTS.md): 2.4-2.6x at 16 rows (the hidden GEMMs on csrc/panel_linear.cpp, the
modulations from one oneDNN GEMM read in place; 2.0-2.1x with oneDNN's hidden GEMMs, 1.7x on sgemm) and
3.6-4.0x at 1 row (the hidden layers on csrc/small_batch_linear.cpp, which streams the 48 MB of weights
per step faster than oneDNN; 2.5-2.7x without it). Losing the small-batch kernel (1 row) or the
hoisting and fusion drops below the gates; losing the panel kernel leaves 16 rows right at theirs.
"""

from __future__ import annotations

import statistics
import time

import pytest
import torch

from uva_kit.head.denoiser import AdaLNDenoiser
from uva_kit.ops import extension_status
from uva_kit.sampler.ddpm import DdpmSampler, DdpmSpec

GATES = {16: 2.0, 1: 3.0}  # median fused/reference speedup that must hold: the targets of issue 8
ROUNDS, WARMUP = 7, 2


@pytest.fixture(scope="module")
def head():
    torch.manual_seed(0)
    denoiser = AdaLNDenoiser(in_channels=2, width=1024, depth=6, cond_dim=768).eval()
    with torch.no_grad():
        for parameter in denoiser.parameters():
            parameter.normal_(0, 0.02)
    return denoiser


@pytest.mark.perf
@pytest.mark.skipif("adaln_sample" not in extension_status().ops, reason="the fused sampler extension is not built")
@pytest.mark.parametrize("rows", sorted(GATES, reverse=True))
def test_fused_sampler_beats_the_reference_loop(benchmark, head, rows):
    sampler = DdpmSampler(DdpmSpec(type="ddpm", steps=16))
    condition = torch.randn(rows, 768, generator=torch.Generator().manual_seed(rows))
    noise = sampler.draw_noise(rows, 2, generator=torch.Generator().manual_seed(0))
    reference_times, fused_times, outputs = [], [], {}

    def reference():
        began = time.perf_counter()
        outputs["reference"] = sampler.sample(head, condition, 2, clamp_x0=True, noise=noise, path="reference")
        reference_times.append(time.perf_counter() - began)

    def fused():
        began = time.perf_counter()
        outputs["fused"] = sampler.sample(head, condition, 2, clamp_x0=True, noise=noise, path="fused")
        fused_times.append(time.perf_counter() - began)

    benchmark.pedantic(fused, setup=reference, rounds=ROUNDS, iterations=1, warmup_rounds=WARMUP)
    ratios = [a / b for a, b in zip(reference_times[-ROUNDS:], fused_times[-ROUNDS:])]
    median = statistics.median(ratios)
    benchmark.extra_info.update(rows=rows, reference_ms=1e3 * statistics.median(reference_times[-ROUNDS:]),
                                fused_ms=1e3 * statistics.median(fused_times[-ROUNDS:]), median_ratio=median,
                                ratios=ratios)
    print(f"\nrows {rows}: reference {benchmark.extra_info['reference_ms']:.1f} ms, fused "
          f"{benchmark.extra_info['fused_ms']:.1f} ms, median ratio {median:.2f}x (gate {GATES[rows]}x)")
    error = float((outputs["fused"] - outputs["reference"]).norm() / outputs["reference"].norm())
    assert error <= 1e-5, error
    assert median >= GATES[rows], (
        f"fused sampler only {median:.2f}x faster than the reference (ratios {ratios}); ATen CPU capability "
        f"{torch.backends.cpu.get_cpu_capability()} (the hand-written kernels behind the gates need AVX512)")
