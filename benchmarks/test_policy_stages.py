"""Per-stage latency of the policy call at pusht-tiny on the fast path (reported, not gated)."""

from __future__ import annotations

import pytest

from uva_kit.benchmarking import policy_stages

STAGES = ["frame encoding", "backbone", "action head, 16 steps", "action head, 100 steps",
          "predict_actions, 16 steps", "predict_actions, 100 steps"]


@pytest.mark.perf
@pytest.mark.parametrize("stage", STAGES)
def test_stage(benchmark, tiny_model, stage):
    run = policy_stages(tiny_model, "fast", batch=1, steps=(16, 100))[stage]
    benchmark.extra_info["sampler"] = tiny_model.sampler.choose_path(
        tiny_model.modalities["action"].head.net, tiny_model.backbone.fusion.weight[:1])
    benchmark.pedantic(run, rounds=7, iterations=1, warmup_rounds=2)
