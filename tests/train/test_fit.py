"""Training the tiny preset: loss falls, exact resume after a real kill, torchrun equals accumulation."""

from __future__ import annotations

import json
import signal
import time

import pytest
import torch
from runs import assert_bitwise_equal, finish, max_difference, run_fit, run_torchrun, weights
from synthetic import SyntheticWindows

import uva_kit
from uva_kit import load_spec
from uva_kit.errors import UvaKitError
from uva_kit.train import fit
from uva_kit.train.metrics import read_metrics


def fixed_noise_loss(model, dataset) -> float:
    """The mean loss over the dataset under fixed modes, timesteps and noise (comparable before/after)."""
    batch = torch.utils.data.default_collate([dataset[i] for i in range(len(dataset))])
    model.eval()
    with torch.no_grad():
        return sum(model.compute_loss(batch, generator=torch.Generator().manual_seed(seed))[0].item() for seed in range(8)) / 8


def test_tiny_preset_loss_falls_and_run_is_self_describing(tmp_path):
    spec = load_spec("pusht-tiny", ["training.steps=50", "training.batch_size=4", "training.warmup_steps=0",
                                    "training.lr=3e-3", "training.log_every=1", "training.checkpoint_every=50",
                                    "training.val_every=25"])
    data = SyntheticWindows(4)
    torch.manual_seed(spec.training.seed)
    untrained = uva_kit.build(spec)
    untrained.action_normalizer.set_range(data.stats["actions"]["min"], data.stats["actions"]["max"])
    result = fit(spec, data, tmp_path / "run", val_dataset=SyntheticWindows(4, seed=1), progress=False)

    trained = uva_kit.load(result.checkpoint / "pretrained_model")  # the EMA weights
    before, after = fixed_noise_loss(untrained, data), fixed_noise_loss(trained, data)
    assert after < 0.7 * before, (before, after)
    assert len(read_metrics(tmp_path / "run", "train")) == 50
    assert len(read_metrics(tmp_path / "run", "val")) == 2 and result.val_loss is not None
    saved = json.loads((tmp_path / "run" / "train_config.json").read_text())
    assert saved["spec"]["training"]["steps"] == 50
    torch.testing.assert_close(trained.action_normalizer.low, torch.tensor(data.stats["actions"]["min"]))
    torch.testing.assert_close(trained.action_normalizer.high, torch.tensor(data.stats["actions"]["max"]))


def test_refuses_to_overwrite_a_run(tmp_path):
    spec = load_spec("pusht-tiny", ["training.steps=1", "training.batch_size=4", "training.checkpoint_every=1"])
    fit(spec, SyntheticWindows(4), tmp_path / "run", progress=False)
    with pytest.raises(UvaKitError, match="already holds a training run"):
        fit(spec, SyntheticWindows(4), tmp_path / "run", progress=False)


def test_a_non_finite_loss_stops_the_run_before_it_saves(tmp_path):
    """A NaN loss must not be trained on and saved (pruning could then drop the last good checkpoints)."""
    spec = load_spec("pusht-tiny", ["training.steps=4", "training.batch_size=4", "training.checkpoint_every=2"])
    data = SyntheticWindows(4)
    data.actions[1, 3, 0] = float("nan")
    with pytest.raises(UvaKitError, match=r"training loss is nan at step [12]; stopped without saving .*last checkpoint: none"):
        fit(spec, data, tmp_path / "run", progress=False)
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_an_empty_validation_split_turns_validation_off(tmp_path, capsys):
    spec = load_spec("pusht-tiny", ["training.steps=2", "training.batch_size=4", "training.val_every=1"])
    result = fit(spec, SyntheticWindows(4), tmp_path / "run", val_dataset=[], progress=False)
    assert result.val_loss is None and result.checkpoint is not None
    assert "validation split has no windows" in capsys.readouterr().out


def test_a_fresh_run_drops_the_log_of_an_attempt_that_saved_nothing(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "metrics.jsonl").write_text('{"step": 7, "split": "train", "loss": 1.0}\n')
    spec = load_spec("pusht-tiny", ["training.steps=2", "training.batch_size=4", "training.log_every=1"])
    fit(spec, SyntheticWindows(4), tmp_path / "run", progress=False)
    assert [r["step"] for r in read_metrics(tmp_path / "run")] == [1, 2]


@pytest.mark.slow
def test_killed_run_resumes_bitwise_identically(tmp_path):
    reference, interrupted = tmp_path / "reference", tmp_path / "interrupted"
    uninterrupted = run_fit(reference, 8)
    process = run_fit(interrupted, 8)
    pointer = interrupted / "checkpoints" / "last"
    deadline = time.time() + 300
    while not (pointer.exists() and int(pointer.read_text()) >= 4):
        assert process.poll() is None, "the run ended before it could be killed"
        assert time.time() < deadline
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)  # a real kill, mid-training
    process.wait()
    killed_at = int(pointer.read_text())
    assert killed_at < 8
    finish(run_fit(interrupted, 8, resume=True))
    finish(uninterrupted)
    for name in ("model", "ema", "optimizer"):
        assert_bitwise_equal(weights(reference, 8, name), weights(interrupted, 8, name))
    steps = [r["step"] for r in read_metrics(interrupted, "train")]
    assert steps == list(range(1, 9))  # no duplicated or missing log records across the kill


@pytest.mark.slow
def test_torchrun_two_processes_match_one_process_with_accumulation(tmp_path):
    """Same global batch: 2 ranks x 1 micro-batch vs 1 rank x 2 accumulated micro-batches.

    Tolerance: 1e-5 absolute on every weight after 4 AdamW steps (only the summation order of the
    gradient all-reduce differs).
    """
    finish(run_fit(tmp_path / "single", 4, "--set", "training.grad_accumulation=2"))
    run_torchrun(tmp_path / "ddp", 4)
    single, ddp = weights(tmp_path / "single", 4, "model"), weights(tmp_path / "ddp", 4, "model")
    assert max_difference(single, ddp) <= 1e-5
    assert max_difference(single, weights(tmp_path / "single", 2, "model")) > 1e-4  # training changed the weights


def test_a_run_saves_absolute_data_paths_so_it_resumes_from_any_directory(tmp_path, monkeypatch):
    from uva_kit.cli import main
    from uva_kit.data import default_pusht_dataset

    data = default_pusht_dataset()
    monkeypatch.chdir(data.parent)
    arguments = ["--spec", "pusht-tiny", "--data", data.name, "--no-progress", "--set", "training.batch_size=4"]
    assert main(["train", *arguments, "--out", str(tmp_path / "run"), "--set", "training.steps=1"]) == 0
    assert json.loads((tmp_path / "run" / "train_config.json").read_text())["data"] == str(data.resolve())
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--resume", str(tmp_path / "run"), "--no-progress"]) == 0



@pytest.mark.parametrize("val_ratio, line", [
    ("0.1", "data: 18 train episodes (1,490 windows), 2 validation episodes (279 windows)"),
    ("0", "data: 20 train episodes (1,769 windows), no validation (training.val_ratio = 0)"),
])
def test_train_says_how_the_data_was_split(tmp_path, capsys, val_ratio, line):
    from uva_kit.cli import main

    arguments = ["--spec", "pusht-tiny", "--data", "default", "--no-progress", "--set", "training.batch_size=4",
                 "--set", "training.steps=1", "--set", f"training.val_ratio={val_ratio}"]
    assert main(["train", *arguments, "--out", str(tmp_path / "run")]) == 0
    assert [text for text in capsys.readouterr().out.splitlines() if text.startswith("data: ")] == [line]
