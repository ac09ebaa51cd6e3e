"""Training the tiny preset: loss falls, exact resume after a real kill, torchrun equals accumulation."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from runs import (
    assert_bitwise_equal,
    finish,
    max_difference,
    read_until,
    run_fit,
    run_torchrun,
    start_fit_pausing_at,
    start_torchrun,
    weights,
)
from spec_overrides import TINY_LANGUAGE_MODALITIES
from synthetic import SyntheticWindows

import uva_kit
from uva_kit import load_spec
from uva_kit.errors import DataError, UvaKitError
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


def test_fit_takes_a_spec_file_like_build_and_refuses_data_without_stats(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(str(load_spec("pusht-tiny", ["training.steps=1", "training.batch_size=4"])))  # print(spec) is YAML
    samples = [SyntheticWindows(4)[i] for i in range(4)]
    with pytest.raises(ValueError, match=r"the dataset \(a list\) has no .stats, .*uva_kit.data.UVADataset has them"):
        fit(path, samples, tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()
    assert fit(path, SyntheticWindows(4), tmp_path / "run", progress=False).step == 1


def test_a_non_finite_loss_stops_the_run_before_it_saves(tmp_path):
    """A NaN loss must not be trained on and saved (pruning could then drop the last good checkpoints). The loss is
    read at the first log or checkpoint step (4 here); the error names the step where it went bad."""
    spec = load_spec("pusht-tiny", ["training.steps=6", "training.batch_size=4", "training.checkpoint_every=4",
                                    "training.log_every=4"])
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


def test_resuming_drops_a_log_line_that_a_kill_cut_short(tmp_path):
    spec = load_spec("pusht-tiny", ["training.steps=2", "training.batch_size=4", "training.log_every=1"])
    fit(spec, SyntheticWindows(4), tmp_path / "run", progress=False)
    with (tmp_path / "run" / "metrics.jsonl").open("a") as log:
        log.write('{"step": 3, "split": "tr')  # killed while writing step 3's record
    fit(spec, SyntheticWindows(4), tmp_path / "run", resume=True, progress=False)
    assert (tmp_path / "run" / "metrics.jsonl").read_text().endswith("}\n")
    assert [r["step"] for r in read_metrics(tmp_path / "run", "train")] == [1, 2]


@pytest.mark.slow
def test_killed_run_resumes_bitwise_identically(tmp_path):
    """SIGKILL after step 5 is logged (checkpoints every 2 steps): the resumed run redoes step 5 and ends bitwise
    where an uninterrupted run ends. The run waits for the kill, so a slow machine cannot let it finish first."""
    reference, interrupted = tmp_path / "reference", tmp_path / "interrupted"
    uninterrupted = run_fit(reference, 8)
    process = start_fit_pausing_at(interrupted, 8, step=5)
    read_until(process, "PAUSED")
    process.send_signal(signal.SIGKILL)  # a real kill, mid-training
    process.wait()
    assert int((interrupted / "checkpoints" / "last").read_text()) == 4
    assert [r["step"] for r in read_metrics(interrupted, "train")] == [1, 2, 3, 4, 5]  # logged past the checkpoint
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


@pytest.mark.slow
def test_sigterm_to_torchrun_stops_every_rank_at_one_step_saves_and_resumes_exactly(tmp_path):
    """torchrun forwards SIGTERM to both ranks; they agree on the stop step, one checkpoint is saved, and
    ``--resume`` under torchrun ends bitwise where an uninterrupted torchrun run ends."""
    reference, interrupted = tmp_path / "reference", tmp_path / "interrupted"
    uninterrupted = start_torchrun(reference, 16)
    process = start_torchrun(interrupted, 16)
    pointer = interrupted / "checkpoints" / "last"
    deadline = time.time() + 300
    while not (pointer.exists() and int(pointer.read_text()) >= 4):
        assert process.poll() is None, "the run ended before it could be stopped"
        assert time.time() < deadline
        time.sleep(0.02)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=300)  # torchrun itself exits 1 after a signal
    stopped_at = int(pointer.read_text())
    assert 4 <= stopped_at < 16
    assert output.count(f"SIGTERM received at step {stopped_at}: saved") == 1, output  # rank 0 reports
    assert f"done at step {stopped_at}" in output, output
    resumed = run_torchrun(interrupted, 16, resume=True)
    assert resumed.count("done at step 16: ") == resumed.count("  model:  ") == 1, resumed  # rank 0 alone reports
    finish(uninterrupted)
    for name in ("model", "ema", "optimizer"):
        assert_bitwise_equal(weights(reference, 16, name), weights(interrupted, 16, name))
    assert [r["step"] for r in read_metrics(interrupted, "train")] == list(range(1, 17))


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


class SignalAtRead(SyntheticWindows):
    """Sends ``signal`` to this process when sample ``at_read`` is read: a Ctrl-C mid-step."""

    def __init__(self, at_read: int, signal_number=None, **options):
        super().__init__(**options)
        self.at_read, self.reads, self.signal = at_read, 0, signal_number or signal.SIGINT

    def __getitem__(self, index: int) -> dict:
        self.reads += 1
        if self.reads == self.at_read:
            os.kill(os.getpid(), self.signal)
        return super().__getitem__(index)


@pytest.fixture
def default_signal_handlers():
    """Python's own SIGINT/SIGTERM handlers for the test (a CI job started in the background ignores SIGINT)."""
    previous = {number: signal.signal(number, handler)
                for number, handler in ((signal.SIGINT, signal.default_int_handler), (signal.SIGTERM, signal.SIG_DFL))}
    yield
    for number, handler in previous.items():
        signal.signal(number, handler)


@pytest.mark.parametrize("signal_name", ["SIGINT", "SIGTERM"])
def test_ctrl_c_or_sigterm_finishes_the_step_saves_and_resumes_exactly(tmp_path, capsys, signal_name,
                                                                       default_signal_handlers):
    spec = load_spec("pusht-tiny", ["training.steps=6", "training.batch_size=4", "training.checkpoint_every=100",
                                    "training.log_every=1", "training.warmup_steps=0"])
    stopped = fit(spec, SignalAtRead(at_read=10, signal_number=getattr(signal, signal_name), size=4),
                  tmp_path / "interrupted", progress=False)
    assert stopped.step == 3 and stopped.checkpoint.name == "00000003"  # the 10th read is in step 3
    assert f"{signal_name} received at step 3: saved" in capsys.readouterr().out
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handlers are back
    resumed = fit(spec, SyntheticWindows(4), tmp_path / "interrupted", resume=True, progress=False)
    whole = fit(spec, SyntheticWindows(4), tmp_path / "whole", progress=False)
    assert resumed.step == whole.step == 6
    for name in ("model", "ema", "optimizer"):
        assert_bitwise_equal(weights(tmp_path / "interrupted", 6, name), weights(tmp_path / "whole", 6, name))


def test_a_second_ctrl_c_interrupts_at_once_but_further_sigterms_are_absorbed(default_signal_handlers):
    from uva_kit.train.stop_request import StopRequest

    with StopRequest() as stop:
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGTERM)  # a second SIGTERM (torchrun forwarding its own) must not kill the run
        assert stop.requested and stop.signal_name == "SIGTERM"
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_a_signal_ignored_at_start_stays_ignored(default_signal_handlers):
    from uva_kit.train.stop_request import StopRequest

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # as under nohup
    with StopRequest() as stop:
        os.kill(os.getpid(), signal.SIGINT)
        assert not stop.requested


def test_the_time_limit_counts_the_training_time_of_earlier_segments(tmp_path, capsys):
    """A resumed time-limited run (the quickstart's) stops once all its segments together reach the limit."""
    spec = load_spec("pusht-tiny", ["training.steps=8", "training.batch_size=4", "training.checkpoint_every=2",
                                    "training.keep_last=10"])
    fit(spec, SyntheticWindows(4), tmp_path / "run", progress=False, time_limit_s=3600)
    state_file = tmp_path / "run" / "checkpoints" / "00000008" / "training_state" / "state.json"
    assert 0 < json.loads(state_file.read_text())["trained_s"] < 3600
    (tmp_path / "run" / "checkpoints" / "last").write_text("00000002\n")
    state_file = tmp_path / "run" / "checkpoints" / "00000002" / "training_state" / "state.json"
    state = json.loads(state_file.read_text())
    state_file.write_text(json.dumps({**state, "trained_s": 3599.99}))  # as if it had trained for an hour
    (state_file.parent / "checksums.json").unlink()  # the edit above would fail the integrity check
    result = fit(spec, SyntheticWindows(4), tmp_path / "run", resume=True, progress=False, time_limit_s=3600)
    assert result.step == 3 and "time limit of 3600 s reached at step 3" in capsys.readouterr().out


def test_log_records_average_their_window_and_split_the_loss_by_modality(tmp_path, capsys):
    from uva_kit.train.optim import lr_multiplier

    spec = load_spec("pusht-tiny", ["training.steps=6", "training.batch_size=4", "training.log_every=3",
                                    "training.warmup_steps=4", "training.lr=1e-3"])
    fit(spec, SyntheticWindows(4), tmp_path / "run", progress=False)
    records = read_metrics(tmp_path / "run", "train")
    assert [r["step"] for r in records] == [3, 6]
    assert all({"loss", "samples_per_s", "lr"} <= set(r) and any(k.startswith("loss/") for k in r) for r in records)
    for record in records:  # the learning rate the step trained with, not the next one
        assert record["lr"] == pytest.approx(1e-3 * lr_multiplier(record["step"] - 1, spec.training))
    output = capsys.readouterr().out
    assert "note: training.warmup_steps (4) >= training.steps" not in output
    assert "step 3: loss " in output and "step 6: loss " in output  # progress=False: a line per record


def test_a_warm_up_longer_than_the_run_is_pointed_out(tmp_path, capsys):
    spec = load_spec("pusht-tiny", ["training.steps=2", "training.batch_size=4", "training.warmup_steps=10"])
    fit(spec, SyntheticWindows(4), tmp_path / "run", progress=False)
    assert "training.warmup_steps (10) >= training.steps (2): the learning rate never reaches" in capsys.readouterr().out


def test_data_loader_workers_leave_ctrl_c_to_the_training_process():
    """A terminal's Ctrl-C reaches the whole process group; workers ignore it so the step can finish."""
    import subprocess
    import sys

    code = ("import os, signal; from uva_kit.train.stop_request import ignore_stop_signals; ignore_stop_signals(0); "
            "os.kill(os.getpid(), signal.SIGINT); os.kill(os.getpid(), signal.SIGTERM); print('still running')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])})
    assert result.stdout.strip() == "still running", result.stderr


def test_a_run_starts_with_a_short_summary_and_points_at_its_whole_spec(tmp_path, capsys):
    spec = load_spec("pusht-tiny", ["training.steps=1", "training.batch_size=4"])
    fit(spec, SyntheticWindows(4), tmp_path / "run", progress=False)
    head = capsys.readouterr().out.split("step 1:")[0]
    assert "pusht-tiny: " in head and "trainable parameters" in head and "1 steps of batch 4, lr 0.0001" in head
    assert f"the whole spec: {tmp_path / 'run' / 'train_config.json'}" in head and len(head.splitlines()) <= 6
    assert f"curves: {tmp_path / 'run' / 'curves.png'}" in head  # and which loss is which:
    assert ("loss: the mean training loss of the last 10 steps, all modes (loss/<modality>: each head's part); "
            "val: the validation loss (EMA weights)") in head


def test_train_ends_with_its_losses_where_its_model_and_curves_are_and_what_to_run_next(tmp_path, capsys):
    from uva_kit.cli import build_parser, main

    run = tmp_path / "run"
    arguments = ["--spec", "pusht-tiny", "--data", "default", "--no-progress", "--set", "training.batch_size=4",
                 "--set", "training.steps=4", "--set", "training.log_every=2", "--set", "training.val_ratio=0.1",
                 "--set", "training.val_batches=1"]
    assert main(["train", *arguments, "--out", str(run)]) == 0
    end = capsys.readouterr().out.split("done at step 4: ")[1].splitlines()
    assert re.fullmatch(r"train loss \d+\.\d{4} \(mean of steps 3-4\), validation loss \d+\.\d{4} \(EMA weights\)", end[0])
    assert end[1:3] == [f"  model:  {run}/checkpoints/00000004/pretrained_model",
                        f"  curves: {run}/curves.png (beside another run's: uva-kit plot {run} OTHER_RUN)"]
    assert (run / "curves.png").is_file()
    command = end[3].removeprefix("  next:   uva-kit ").split("  (")[0]
    assert build_parser().parse_args(shlex.split(command)).checkpoint == [str(run)]  # a command that works as printed


def test_the_eval_command_a_run_suggests_gives_an_instructed_model_its_instruction(tmp_path):
    from types import SimpleNamespace

    from uva_kit.cli import build_parser
    from uva_kit.cli.train import finished

    result = SimpleNamespace(out=tmp_path, step=1, checkpoint=tmp_path / "checkpoints" / "00000001", val_loss=None)
    command = finished(result, instructed=True).splitlines()[-1].removeprefix("  next:   uva-kit ").split("  (")[0]
    assert build_parser().parse_args(shlex.split(command)).instruction == "TASK"

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


def test_training_data_whose_frames_are_not_in_0_1_is_refused_before_anything_is_written(tmp_path):
    """The model skips the per-step value check while training; fit checks a sample of the data instead."""
    data = SyntheticWindows(4)
    data.history = data.history * 255
    spec = load_spec("pusht-tiny", ["training.steps=1", "training.batch_size=4"])
    with pytest.raises(ValueError, match=r"the training data's history_frames' must be finite and in \[0, 1\]"):
        fit(spec, data, tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


class InstructedWindows(SyntheticWindows):
    def __getitem__(self, index: int) -> dict:
        return {**super().__getitem__(index), "instruction": "push the block"}


def test_data_without_instructions_for_a_language_spec_is_refused_before_anything_is_written(tmp_path):
    spec = load_spec("pusht-tiny", [TINY_LANGUAGE_MODALITIES, "training.steps=1", "training.batch_size=4"])
    instructions = r"build it with UVADataset\(\.\.\., instructions=True\)"
    with pytest.raises(DataError, match=f"the training data's samples have none: {instructions}"):
        fit(spec, SyntheticWindows(4), tmp_path / "run", progress=False)
    with pytest.raises(DataError, match=f"the validation data's samples have none: {instructions}"):
        fit(spec, InstructedWindows(4), tmp_path / "run", val_dataset=SyntheticWindows(4), progress=False)
    with_video = load_spec("pusht-tiny", [TINY_LANGUAGE_MODALITIES, "training.steps=1", "training.batch_size=4",
                                          "training.video_data_ratio=0.5"])
    with pytest.raises(DataError, match=f"the video data's samples have none: {instructions}"):
        fit(with_video, InstructedWindows(4), tmp_path / "run", video_dataset=SyntheticWindows(8, with_actions=False),
            progress=False)
    assert not (tmp_path / "run").exists()
    assert fit(spec, InstructedWindows(4), tmp_path / "run", val_dataset=InstructedWindows(4), progress=False).step == 1


def tasks_dataset(tasks, layout):
    """A UVADataset of synthetic episodes, one per task."""
    from data_helpers import synthetic_episode

    from uva_kit.data import EpisodeTable, UVADataset

    episodes = [synthetic_episode(30, offset=100 * i) for i in range(len(tasks))]
    table = EpisodeTable(frames=np.concatenate([e.frames for e in episodes]), actions=np.concatenate([e.actions for e in episodes]),
                         agent_pos=np.concatenate([e.agent_pos for e in episodes]),
                         episode_ends=np.cumsum([e.length for e in episodes]), tasks=tuple(tasks))
    return UVADataset(table, layout, split="all", instructions=True)


@pytest.mark.parametrize("text_encoder, shared", [("{type = 'task_embedding', buckets = 1}", True),
                                                  ("{type = 'task_embedding', instructions = ['open', 'close']}", False)])
def test_training_tasks_the_text_encoder_cannot_tell_apart_are_pointed_out(tmp_path, text_encoder, shared):
    from uva_kit.modality.language import SharedInstructionWarning

    spec = load_spec("pusht-tiny", [TINY_LANGUAGE_MODALITIES, f"text_encoder={text_encoder}", "training.steps=1",
                                    "training.batch_size=4"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit(spec, tasks_dataset(["open", "close", "open"], spec.layout), tmp_path / "run", progress=False)
    messages = [str(w.message) for w in caught if w.category is SharedInstructionWarning]
    assert len(messages) == shared
    assert all(m.startswith("different training instructions get the same text vector, so the model cannot tell them "
                            "apart: 'close' = 'open'. With text_encoder task_embedding, list the tasks in "
                            "text_encoder.instructions") for m in messages)
