"""Training throughput (samples per second) at the tiny and small presets: reported, never gated.

    pytest benchmarks/test_train_throughput.py --benchmark-only
"""

from __future__ import annotations

import pytest
import torch

import uva_kit
from uva_kit.modality.proprio import ProprioSpec
from uva_kit.train.optim import build_optimizer

BATCH = 8


def synthetic_batch(spec, batch: int) -> dict:
    layout, generator = spec.layout, torch.Generator().manual_seed(0)
    frames = (batch, layout.history_frames, 3, layout.image_size, layout.image_size)
    proprio = {m.data_key: torch.rand(batch, layout.history_frames, m.dim, generator=generator)
               for m in spec.modalities if isinstance(m, ProprioSpec)}
    return {
        "history_frames": torch.rand(frames, generator=generator),
        "future_frames": torch.rand(frames, generator=generator),
        "actions": torch.rand(batch, layout.action_chunk, layout.action_dim, generator=generator) * 2 - 1,
        **proprio,
    }


@pytest.mark.parametrize("preset", ["pusht-tiny", "pusht-small"])
def test_training_step_throughput(benchmark, preset):
    torch.manual_seed(0)
    spec = uva_kit.load_spec(preset)
    model = uva_kit.build(spec).train()
    optimizer = build_optimizer(model, spec.training)
    batch = synthetic_batch(spec, BATCH)

    def step():
        loss, _ = model.compute_loss(batch)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    benchmark.pedantic(step, rounds=3, iterations=1, warmup_rounds=1)
    benchmark.extra_info["samples_per_second"] = BATCH / benchmark.stats.stats.median
