"""``uva-kit bench``: the per-stage table (reference vs fast path) and its JSON record."""

from __future__ import annotations

import json

import pytest
import torch
from cli_support import run_cli
from spec_overrides import TINY_LANGUAGE_MODALITIES


@pytest.mark.parametrize("spec,overrides", [("pusht-tiny", ()), ("pusht-small", ()), ("pusht-tiny", ("--set", TINY_LANGUAGE_MODALITIES))],
                         ids=["vision-only", "policy-given-proprio", "instructed"])
def test_bench_prints_every_stage_for_both_paths_and_writes_json(tmp_path, spec, overrides):
    result = run_cli("bench", "--spec", spec, *overrides, "--steps", "2", "5", "--repeats", "1", "--threads", "1",
                     "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"uva-kit bench: spec {spec}, batch 1, ") and "1 thread(s)" in lines[0]
    stages = ["frame encoding", "backbone", "action head, 2 steps", "action head, 5 steps",
              "predict_actions, 2 steps", "predict_actions, 5 steps"]
    for stage in stages:
        row = next(line for line in lines if line.startswith(stage))
        reference, fast, speedup = row[len(stage):].split()
        assert float(reference) > 0 and float(fast) > 0 and speedup.endswith("x")
    record = json.loads((tmp_path / "bench.json").read_text())
    assert list(record["seconds"]) == stages and set(record["seconds"]["backbone"]) == {"reference", "fast"}


def test_bench_refuses_a_missing_gpu_cleanly():
    result = run_cli("bench", "--spec", "pusht-tiny", "--device", "cuda:0", "--steps", "2")
    if torch.cuda.is_available():
        assert result.returncode == 0
    else:
        assert result.returncode == 2 and "use --device cpu" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("option", ["--batch-size", "--batch"])
def test_bench_takes_the_batch_size_under_both_names(option):
    from uva_kit.cli import build_parser

    assert build_parser().parse_args(["bench", "--spec", "pusht-tiny", option, "3"]).batch == 3


def test_bench_times_a_trained_checkpoint_and_takes_a_spec_or_a_checkpoint(tmp_path):
    import uva_kit

    model = uva_kit.save(uva_kit.build(uva_kit.load_spec("pusht-tiny", ["backbone.width=16"])), tmp_path / "model")
    result = run_cli("bench", "--checkpoint", str(model), "--steps", "2", "--repeats", "1", "--threads", "1",
                     "--out", str(tmp_path / "bench"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"uva-kit bench: checkpoint {model} (spec pusht-tiny), batch 1, ")
    assert "predict_actions, 2 steps" in result.stdout
    assert json.loads((tmp_path / "bench" / "bench.json").read_text())["checkpoint"] == str(model)
    for arguments, message in [((), "give --spec (a model with random weights) or --checkpoint"),
                               (("--spec", "pusht-tiny", "--checkpoint", str(model)), "or --checkpoint (a trained"),
                               (("--checkpoint", str(model), "--set", "backbone.depth=2"), "--set changes a spec")]:
        result = run_cli("bench", *arguments)
        assert result.returncode == 2 and message in result.stderr, result.stderr


@pytest.mark.parametrize("path", ["reference", "fused"])
def test_timing_the_stages_leaves_the_models_sampler_path_as_it_was(path):
    import uva_kit
    from uva_kit.benchmarking import stage_table

    model = uva_kit.build(uva_kit.load_spec("pusht-tiny", ["backbone.width=16"])).eval()
    model.sampler.path = path
    assert set(stage_table(model, steps=(2,), repeats=1)["backbone"]) == {"reference", "fast"}
    assert model.sampler.path == path
