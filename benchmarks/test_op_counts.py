"""Exact gates on ATen ops per sampling step (a stand-in for GPU kernel launches) and host transfers.

Counted with TorchDispatchMode at the real depth (6 blocks; width does not change the counts). The
fused path runs the whole loop inside one op, so it issues no ATen op per step; the restructured
loop issues a fixed number with no host-to-device copy; the naive reference issues many more.
"""

from __future__ import annotations

import pytest
import torch

from uva_kit.head.denoiser import AdaLNDenoiser
from uva_kit.ops import extension_status
from uva_kit.ops.counting import OpCounter, per_step_ops
from uva_kit.sampler.ddpm import DdpmSampler, DdpmSpec

MAX_RESTRUCTURED_OPS_PER_STEP = 100  # measured 96 with 6 blocks (the reference: 192, 18 of them host transfers)


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    return DdpmSampler(DdpmSpec(type="ddpm", steps=16)), AdaLNDenoiser(2, 64, 6, 32).eval(), torch.randn(16, 32)


def ops_per_step(setup, path):
    sampler, denoiser, condition = setup
    return per_step_ops(lambda steps: sampler.sample(denoiser, condition, 2, steps=steps, path=path), (4, 12))


@pytest.mark.perf
@pytest.mark.skipif("adaln_sample" not in extension_status().ops, reason="the fused sampler extension is not built")
def test_fused_path_op_counts(benchmark, setup):
    sampler, denoiser, condition = setup
    fused_ops, fused_transfers = ops_per_step(setup, "fused")
    restructured_ops, restructured_transfers = ops_per_step(setup, "restructured")
    reference_ops, reference_transfers = ops_per_step(setup, "reference")
    sampler.sample(denoiser, condition, 2, path="fused")  # fills the per-model caches for 16 steps
    with OpCounter() as per_call:
        sampler.sample(denoiser, condition, 2, path="fused")
    benchmark.extra_info.update(
        fused_ops_per_step=fused_ops, fused_ops_per_call=per_call.total, restructured_ops_per_step=restructured_ops,
        reference_ops_per_step=reference_ops, reference_host_transfers_per_step=reference_transfers,
    )
    print(f"\nATen ops per step: reference {reference_ops:.0f} ({reference_transfers:.0f} host transfers), "
          f"restructured {restructured_ops:.0f}, fused {fused_ops:.0f} ({per_call.total} per call)")
    assert fused_ops == 0 and fused_transfers == 0
    assert per_call.counts["adaln_sample"] == 1 and per_call.total <= 40
    assert restructured_transfers == 0 and restructured_ops <= MAX_RESTRUCTURED_OPS_PER_STEP
    assert reference_ops > restructured_ops
    benchmark.pedantic(lambda: sampler.sample(denoiser, condition, 2, path="fused"), rounds=7, warmup_rounds=2)
