"""The training loop reads losses from the device only when it logs, and logs the same numbers as reading every step."""

from __future__ import annotations

import sys

import torch
from synthetic import SyntheticWindows

from uva_kit import load_spec
from uva_kit.train import fit, loop
from uva_kit.train.metrics import read_metrics

READS = ("item", "tolist", "__float__", "__int__", "__bool__", "numpy")  # each waits for the device on a GPU
# Functions whose reads wait for nothing, as their tensors are on the host on any device: the mode and mask ratio
# each micro-batch draws (the loop passes no generator, so torch's CPU generator draws them) and AdamW's step count.
HOST_VALUES = {"_choose_mode", "truncated_normal", "_get_value"}


def test_losses_are_read_from_the_device_only_at_log_steps(tmp_path, monkeypatch):
    """A host read per step stalls a GPU pipeline; reads are counted per step, in its forward/backward passes
    ("compute") and in what follows them ("report"), on a run that logs every 4 steps and saves only at its end."""
    reads: dict[tuple[int, str], int] = {}
    where = {"step": 0, "phase": "setup"}

    def counted(name):
        original = getattr(torch.Tensor, name)

        def read(self, *args, **kwargs):
            if sys._getframe(1).f_code.co_name not in HOST_VALUES:
                key = (where["step"], where["phase"])
                reads[key] = reads.get(key, 0) + 1
            return original(self, *args, **kwargs)
        return read

    accumulate = loop._accumulate_gradients

    def accumulate_and_mark(*args, **kwargs):
        where.update(step=where["step"] + 1, phase="compute")
        result = accumulate(*args, **kwargs)
        where["phase"] = "report"
        return result

    spec = load_spec("pusht-tiny", ["training.steps=12", "training.batch_size=4", "training.log_every=4",
                                    "training.grad_accumulation=2", "training.checkpoint_every=100"])
    monkeypatch.setattr(loop, "_accumulate_gradients", accumulate_and_mark)
    for name in READS:
        monkeypatch.setattr(torch.Tensor, name, counted(name))
    fit(spec, SyntheticWindows(4), tmp_path / "run", progress=False)
    monkeypatch.undo()

    assert {step for step, phase in reads if phase == "compute"} == set()
    assert {step for step, phase in reads if phase == "report"} == {4, 8, 12}


def test_log_records_hold_the_means_of_the_losses_each_step_had(tmp_path, monkeypatch):
    """The values read at a log step are those each step's micro-batches had: the record's loss is the mean over
    its steps of each step's mean micro-batch loss, and loss/<modality> the mean over the micro-batches with it."""
    steps: list[tuple[list[float], list[dict]]] = []
    accumulate = loop._accumulate_gradients

    def accumulate_and_keep(*args, **kwargs):
        losses, metrics = accumulate(*args, **kwargs)
        steps.append(([float(loss) for loss in losses],
                      [{k: float(v) for k, v in m.items() if k.startswith("loss/")} for m in metrics]))
        return losses, metrics

    monkeypatch.setattr(loop, "_accumulate_gradients", accumulate_and_keep)
    spec = load_spec("pusht-tiny", ["training.steps=7", "training.batch_size=4", "training.log_every=3",
                                    "training.grad_accumulation=2"])
    fit(spec, SyntheticWindows(4), tmp_path / "run", progress=False)

    records = read_metrics(tmp_path / "run", "train")
    assert [r["step"] for r in records] == [3, 6, 7]
    for record, window in zip(records, (steps[0:3], steps[3:6], steps[6:7])):
        assert record["loss"] == sum(sum(losses) / len(losses) for losses, _ in window) / len(window)
        terms = [m for _, metrics in window for m in metrics]
        for key in {k for m in terms for k in m}:
            values = [m[key] for m in terms if key in m]
            assert record[key] == sum(values) / len(values)
