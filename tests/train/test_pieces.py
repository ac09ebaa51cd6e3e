"""The trainer's parts: batch plan, gradient accumulation, EMA, optimizer groups, LR schedule, checkpoint pruning, data mixing."""

from __future__ import annotations

import math

import pytest
import torch
from runs import assert_bitwise_equal, weights
from synthetic import SyntheticWindows

from uva_kit import load_spec
from uva_kit.errors import UvaKitError
from uva_kit.run_layout import checkpoint_root
from uva_kit.spec import TrainingSpec
from uva_kit.train import fit
from uva_kit.train.batches import BatchPlan, MicroBatch
from uva_kit.train.distributed import Distributed, Replicated
from uva_kit.train.ema import EMA
from uva_kit.train.loop import _accumulate_gradients
from uva_kit.train.loss_window import LossWindow
from uva_kit.train.metrics import read_metrics
from uva_kit.train.optim import lr_multiplier, parameter_groups


def global_batch(world_size: int, accumulation: int, step: int) -> list[tuple[int, tuple]]:
    out = []
    for rank in range(world_size):
        plan = BatchPlan(100, 12, seed=5, world_size=world_size, rank=rank, grad_accumulation=accumulation)
        out += [(m.index, m.seed, m.samples) for m in plan.micro_batches(step)]
    return sorted(out)


def test_global_batch_is_independent_of_process_layout():
    assert global_batch(1, 2, 3) == global_batch(2, 1, 3)
    one = global_batch(1, 1, 3)
    assert sorted(s for _, _, samples in one for s in samples) == sorted(
        s for _, _, samples in global_batch(3, 2, 3) for s in samples)


def test_epochs_cover_the_data_and_differ():
    plan = BatchPlan(40, 8, seed=1)
    epoch0 = [i for step in range(5) for m in plan.micro_batches(step) for _, i, _ in m.samples]
    epoch1 = [i for step in range(5, 10) for m in plan.micro_batches(step) for _, i, _ in m.samples]
    assert sorted(epoch0) == list(range(40)) == sorted(epoch1) and epoch0 != epoch1


def test_plan_errors_are_actionable():
    with pytest.raises(UvaKitError, match="divisible"):
        BatchPlan(100, 10, seed=0, world_size=4)
    with pytest.raises(UvaKitError, match="fewer than one batch"):
        BatchPlan(3, 8, seed=0)


def test_video_mixing_draws_the_configured_share():
    plan = BatchPlan(64, 4, seed=0, video_dataset_size=50, video_ratio=0.3)
    sources = [m.samples[0][0] for step in range(400) for m in plan.micro_batches(step)]
    assert 0.22 < sources.count("video") / len(sources) < 0.38


def test_ema_decay_follows_the_power_law_and_averages():
    model = torch.nn.Linear(2, 2)
    ema = EMA(model, power=0.75, max_decay=0.9999)
    for _ in range(2):  # Diffusion Policy's EMAModel copies on its first two updates (get_decay(0), get_decay(1))
        ema.update(model)
        assert ema.decay() == 0.0
    for _ in range(8):
        ema.update(model)
    assert math.isclose(ema.decay(), 1 - (1 + 8) ** -0.75)  # the 10th update: get_decay(9) = 1 - (1 + 9 - 1)^-0.75
    with torch.no_grad():
        model.weight.add_(1.0)
    before = ema.model.weight.clone()
    ema.update(model)
    expected = ema.decay() * before + (1 - ema.decay()) * model.weight
    torch.testing.assert_close(ema.model.weight, expected)


def test_ema_decay_is_capped_and_buffers_are_copied_not_averaged():
    model = torch.nn.BatchNorm1d(2)  # running statistics are buffers
    ema = EMA(model, power=0.75, max_decay=0.9999)
    ema.updates = 10**6  # 1 - (1 + 10^6)^-0.75 is about 0.99997, above the cap
    assert ema.decay() == 0.9999
    model.running_mean.fill_(3.0)
    ema.update(model)
    assert torch.equal(ema.model.running_mean, model.running_mean)


def test_loss_window_averages_steps_and_each_modality_over_the_micro_batches_that_trained_it():
    window = LossWindow()
    window.add(1, 3.0, [{"loss": 3.0, "loss/video": 3.0, "mode": "video"}])
    window.add(2, 5.0, [{"loss": 0.5, "loss/action": 0.5, "mode": "policy"},
                        {"loss": 2.5, "loss/video": 1.0, "loss/action": 1.5, "mode": "joint"},
                        {"loss": 2.0, "loss/video": 2.0, "mode": "video"}])
    record = window.record(batch_size=4)
    assert (record["loss"], record["loss/video"], record["loss/action"]) == (4.0, 2.0, 1.0)  # 2 steps, 3 and 2 micro-batches


class Regression(torch.nn.Linear):
    """A linear model that returns ``(loss, metrics)`` for a batch, as a UVA model does."""

    def forward(self, batch: dict, metrics_on_device: bool = False) -> tuple[torch.Tensor, dict]:
        return ((super().forward(batch["x"]) - batch["y"]) ** 2).mean(), {}


def test_accumulated_gradients_are_the_mean_over_the_micro_batches():
    """Three micro-batches of one step leave the mean of their gradients (not the sum) in ``.grad``."""
    torch.manual_seed(0)
    model = Regression(3, 2)
    batches = [{"x": torch.randn(4, 3), "y": torch.randn(4, 2)} for _ in range(3)]
    expected = [torch.stack(grads).mean(dim=0)
                for grads in zip(*(torch.autograd.grad(model(batch)[0], list(model.parameters())) for batch in batches))]

    micro_batches = iter([(MicroBatch(step=0, index=i, seed=i, samples=()), batch) for i, batch in enumerate(batches)])
    losses, _ = _accumulate_gradients(Replicated(Distributed(), model, ema=None), micro_batches, len(batches), "cpu",
                                      autocast_dtype=None, scaler=None)
    with torch.no_grad():
        assert [float(loss) for loss in losses] == pytest.approx([model(batch)[0].item() for batch in batches])  # undivided
    for parameter, mean in zip(model.parameters(), expected):
        torch.testing.assert_close(parameter.grad, mean)


def test_no_weight_decay_on_biases_and_1d_parameters():
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.LayerNorm(4))
    decay, no_decay = parameter_groups(model, 0.02)
    assert [p.shape for p in decay["params"]] == [torch.Size([4, 3])]
    assert len(no_decay["params"]) == 3 and no_decay["weight_decay"] == 0.0


def test_lr_warms_up_then_follows_a_cosine():
    """diffusers' get_cosine_schedule_with_warmup (the original's): step / warmup, then 0.5 (1 + cos(pi progress))."""
    spec = TrainingSpec(steps=110, warmup_steps=10)
    assert lr_multiplier(0, spec) == 0.0
    assert lr_multiplier(5, spec) == pytest.approx(0.5)
    assert lr_multiplier(9, spec) == pytest.approx(0.9)
    assert lr_multiplier(10, spec) == pytest.approx(1.0)
    assert lr_multiplier(60, spec) == pytest.approx(0.5)
    assert lr_multiplier(110, spec) == pytest.approx(0.0)


def test_evaluation_hook_keeps_the_top_k_checkpoints(tmp_path):
    spec = load_spec("pusht-tiny", ["training.steps=6", "training.batch_size=4", "training.eval_every=1",
                                    "training.keep_top_k=2", "training.keep_last=1", "training.checkpoint_every=100"])
    scores = {1: 0.1, 2: 0.9, 3: 0.2, 4: 0.8, 5: 0.3, 6: 0.0}
    fit(spec, SyntheticWindows(4), tmp_path, evaluate=lambda model, step: scores[step], progress=False)
    kept = sorted(p.name for p in checkpoint_root(tmp_path).iterdir() if p.name.isdigit())
    assert kept == ["00000002", "00000004", "00000006"]  # the two best and the newest
    assert [r["score"] for r in read_metrics(tmp_path, "eval")] == list(scores.values())


def test_action_free_video_is_mixed_in(tmp_path):
    spec = load_spec("pusht-tiny", ["training.steps=4", "training.batch_size=4", "training.video_data_ratio=0.5",
                                    "training.checkpoint_every=100"])
    result = fit(spec, SyntheticWindows(4), tmp_path, video_dataset=SyntheticWindows(8, seed=3, with_actions=False),
                 progress=False)
    assert result.step == 4 and math.isfinite(result.train_loss)


def test_stage_two_starts_from_stage_one_weights(tmp_path, capsys):
    video_only = ["training.steps=2", "training.batch_size=4", "training.checkpoint_every=100",
                  "modes=[{mode = {type = 'video'}}]"]
    stage1 = fit(load_spec("pusht-tiny", video_only), SyntheticWindows(4), tmp_path / "stage1", progress=False)
    spec2 = load_spec("pusht-tiny", ["training.steps=1", "training.batch_size=4", "training.checkpoint_every=100"])
    fit(spec2, SyntheticWindows(4), tmp_path / "stage2", init_from=stage1.checkpoint / "pretrained_model", progress=False)
    printed = capsys.readouterr().out
    assert "initialised" in printed and "; 0 keep their fresh values" in printed  # same architecture: all of it
    wider = load_spec("pusht-tiny", ["training.steps=1", "training.batch_size=4", "training.checkpoint_every=100",
                                     "backbone.width=48"])
    fit(wider, SyntheticWindows(4), tmp_path / "stage2b", init_from=tmp_path / "stage1", progress=False)  # a run
    printed = capsys.readouterr().out
    assert f"from {stage1.checkpoint / 'pretrained_model'}; " in printed
    kept = int(printed.split("; ")[1].split()[0])
    assert kept > 0  # the backbone's mis-shaped weights keep their fresh values instead of failing or being forced
    assert "keep their fresh values (backbone." in printed  # and are named


def test_time_limit_stops_with_a_checkpoint_and_resume_continues(tmp_path):
    spec = load_spec("pusht-tiny", ["training.steps=50", "training.batch_size=4", "training.checkpoint_every=100"])
    stopped = fit(spec, SyntheticWindows(4), tmp_path, time_limit_s=0.0, progress=False)
    assert stopped.step == 1 and stopped.checkpoint.name == "00000001"
    finished = fit(spec, SyntheticWindows(4), tmp_path, resume=True, time_limit_s=None, progress=False)
    assert finished.step == 50


@pytest.mark.filterwarnings("ignore::uva_kit.head.base.NarrowHeadWarning")  # the changed encoder's wider tokens
def test_training_reads_the_latent_cache_and_a_changed_encoder_invalidates_it(tmp_path, monkeypatch):
    from uva_kit.encoder.patch import PatchEncoder

    calls = []
    original = PatchEncoder.encode
    monkeypatch.setattr(PatchEncoder, "encode", lambda self, *a, **k: calls.append(1) or original(self, *a, **k))
    cache = tmp_path / "cache"
    base = ["training.steps=3", "training.batch_size=4", "training.checkpoint_every=100"]
    first = fit(load_spec("pusht-tiny", base), SyntheticWindows(4), tmp_path / "a", latent_cache=cache, progress=False)
    assert len(calls) == 4  # each of the 4 windows encoded once, then read from the cache for 3 steps
    calls.clear()
    second = fit(load_spec("pusht-tiny", base), SyntheticWindows(4), tmp_path / "b", latent_cache=cache, progress=False)
    assert calls == [] and math.isclose(first.train_loss, second.train_loss, rel_tol=1e-6)
    other_patch = 8 if load_spec("pusht-tiny").encoder.patch_size != 8 else 4
    fit(load_spec("pusht-tiny", [*base, f"encoder.patch_size={other_patch}"]), SyntheticWindows(4),
        tmp_path / "c", latent_cache=cache, progress=False)
    assert len(calls) == 4  # another encoder: another fingerprint folder, encoded afresh
    assert len([p for p in cache.iterdir() if p.is_dir()]) == 2


def test_latent_windows_fill_encodes_up_front_so_reads_never_run_the_encoder(tmp_path, monkeypatch):
    """fit fills the cache before training: DataLoader workers then only read it (they must not run an
    encoder that sits on a CUDA device)."""
    import uva_kit
    from uva_kit.encoder.patch import PatchEncoder
    from uva_kit.train.latent_windows import CachedLatentWindows

    model = uva_kit.build("pusht-tiny")
    windows = CachedLatentWindows(SyntheticWindows(5), model, tmp_path)
    assert windows.fill(False, rank=1, world_size=2) == 2  # windows 1 and 3, as rank 1 of 2 under torchrun
    assert windows.fill(False, rank=0, world_size=2) == 3 and windows.fill(progress=False) == 0
    monkeypatch.setattr(PatchEncoder, "encode", lambda *a, **k: pytest.fail("a read ran the encoder"))
    assert windows[2]["history_latents"].device.type == "cpu"


def test_fsdp_on_one_process_trains_exactly_as_ddp_and_says_it_has_no_effect(tmp_path, capsys):
    base = ["training.steps=2", "training.batch_size=4", "training.checkpoint_every=2"]
    fit(load_spec("pusht-tiny", base), SyntheticWindows(4), tmp_path / "ddp", progress=False)
    assert "no effect on one process" not in capsys.readouterr().out
    fit(load_spec("pusht-tiny", [*base, "training.parallelism='fsdp'"]), SyntheticWindows(4), tmp_path / "fsdp", progress=False)
    assert "training.parallelism='fsdp' has no effect on one process" in capsys.readouterr().out
    for name in ("model", "ema", "optimizer"):
        assert_bitwise_equal(weights(tmp_path / "ddp", 2, name), weights(tmp_path / "fsdp", 2, name))


def test_fit_refuses_a_device_that_cannot_run_here(tmp_path):
    spec = load_spec("pusht-tiny", ["training.steps=1", "training.batch_size=4"])
    with pytest.raises(UvaKitError, match="device 'gpu' is not one uva_kit runs on"):
        fit(spec, SyntheticWindows(4), tmp_path / "run", device="gpu", progress=False)
    assert not (tmp_path / "run").exists()
