"""``training.parallelism = "fsdp"`` under torchrun (2 CPU processes, gloo): same result and checkpoints as DDP, nothing left alive."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from runs import (
    assert_bitwise_equal,
    checkpoint,
    finish,
    max_difference,
    run_fit,
    run_torchrun,
    start_torchrun,
    weights,
)
from safetensors import safe_open

import uva_kit
from uva_kit.train.metrics import read_metrics

FSDP = ("--set", "training.parallelism='fsdp'")


@pytest.fixture(scope="module")
def fsdp_run(tmp_path_factory):
    """4 steps of FSDP training on 2 ranks, checkpoints at steps 2 and 4."""
    out = tmp_path_factory.mktemp("fsdp") / "run"
    run_torchrun(out, 4, *FSDP)
    return out


def layout(path) -> dict:
    """A checkpoint's files and, for each safetensors file, its tensor names, shapes and dtypes."""
    files = {}
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        name = str(file.relative_to(path))
        if file.suffix == ".safetensors":
            with safe_open(str(file), "pt") as tensors:
                files[name] = {k: (tuple(tensors.get_slice(k).get_shape()), tensors.get_slice(k).get_dtype())
                               for k in tensors.keys()}
        else:
            files[name] = None
    return files


@pytest.mark.slow
def test_fsdp_on_two_ranks_matches_one_process_with_accumulation(tmp_path, fsdp_run):
    """Same global batch: 2 sharded ranks x 1 micro-batch vs 1 process x 2 accumulated micro-batches.

    Tolerance: 1e-5 absolute on every raw and EMA weight and optimizer moment after 4 AdamW steps
    (only the summation order of the gradient reduce-scatter differs). The checkpoint has the same
    files, tensor names, shapes and dtypes as the one-process (= DDP) checkpoint: whole tensors, not shards.
    """
    single = tmp_path / "single"
    finish(run_fit(single, 4, "--set", "training.grad_accumulation=2"))
    for name in ("model", "ema", "optimizer"):
        assert max_difference(weights(single, 4, name), weights(fsdp_run, 4, name)) <= 1e-5, name
    assert max_difference(weights(single, 4, "model"), weights(single, 2, "model")) > 1e-4  # training moved the weights
    [single_val], [fsdp_val] = read_metrics(single, "val"), read_metrics(fsdp_run, "val")  # on rank 0's whole EMA copy
    assert abs(single_val["loss"] - fsdp_val["loss"]) <= 1e-5
    assert layout(checkpoint(fsdp_run, 4)) == layout(checkpoint(single, 4))
    fsdp_state, single_state = (json.loads((checkpoint(run, 4) / "training_state" / "state.json").read_text())
                                for run in (fsdp_run, single))
    assert fsdp_state["optimizer"]["param_groups"] == single_state["optimizer"]["param_groups"]

    model = uva_kit.load(checkpoint(fsdp_run, 4) / "pretrained_model")
    assert not any(type(p).__name__ == "DTensor" for p in model.parameters())
    reference = uva_kit.load(checkpoint(single, 4) / "pretrained_model").state_dict()
    assert max_difference({k: v for k, v in model.state_dict().items()}, reference) <= 1e-5


@pytest.mark.slow
def test_fsdp_run_resumed_from_a_checkpoint_equals_the_uninterrupted_run(tmp_path, fsdp_run):
    """A copy of the run rewound to its step-2 checkpoint (as a run stopped there) resumes to step 4 bitwise."""
    resumed = tmp_path / "resumed"
    shutil.copytree(fsdp_run, resumed)
    shutil.rmtree(checkpoint(resumed, 4))
    (resumed / "checkpoints" / "last").write_text("00000002\n")
    run_torchrun(resumed, 4, resume=True)
    for name in ("model", "ema", "optimizer"):
        assert_bitwise_equal(weights(fsdp_run, 4, name), weights(resumed, 4, name))
    assert [r["step"] for r in read_metrics(resumed, "train")] == [1, 2, 3, 4]
    assert torch.equal(uva_kit.load(checkpoint(resumed, 4) / "pretrained_model").backbone.fusion.weight,
                       weights(fsdp_run, 4, "ema")["backbone.fusion.weight"])


NOTHING_SHARDED_OUTLIVES_FIT = """\
import gc, sys
from torch.distributed.fsdp import FSDPModule
from uva_kit.cli import main

code = main(sys.argv[1:])
alive = sum(isinstance(o, FSDPModule) for o in gc.get_objects())
assert alive == 0, f"{alive} FSDP modules outlive fit"
sys.exit(code)
"""


@pytest.mark.slow
def test_no_sharded_module_outlives_fit(tmp_path):
    """Nothing keeps the FSDP model, and the gloo group it holds, alive after ``fit`` returns: else they are
    destroyed, if at all, while the interpreter shuts down."""
    script = tmp_path / "check.py"
    script.write_text(NOTHING_SHARDED_OUTLIVES_FIT)
    finish(start_torchrun(tmp_path / "run", 2, *FSDP, script=script))
