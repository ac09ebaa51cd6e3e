"""Per-stage latency of the policy call on the fast path (reported, not gated): pusht-tiny on the CPU, or
the spec and device given by --stages-spec / --stages-device (benchmarks/conftest.py)."""

from __future__ import annotations

import pytest
import torch

from uva_kit.benchmarking import policy_stages

STAGES = ["frame encoding", "backbone", "action head, 16 steps", "action head, 100 steps",
          "predict_actions, 16 steps", "predict_actions, 100 steps"]


@pytest.mark.perf
@pytest.mark.parametrize("stage", STAGES)
def test_stage(benchmark, stages_model, stage):
    model = stages_model
    stage_call = policy_stages(model, "fast", batch=1, steps=(16, 100))[stage]

    def run():
        stage_call()
        if model.device.type == "cuda":  # time the work, not its launch
            torch.cuda.synchronize()

    benchmark.extra_info.update(spec=model.spec.name, device=str(model.device), sampler=model.sampler.choose_path(
        model.modalities["action"].head.net, model.backbone.fusion.weight[:1]))
    benchmark.pedantic(run, rounds=7, iterations=1, warmup_rounds=2)
