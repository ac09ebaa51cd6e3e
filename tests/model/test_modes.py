"""Each mode fills the streams and applies the losses of the original's mode table (facts 2.2)."""

from __future__ import annotations

import math

import pytest
import torch

from uva_kit.masking.mar import MarMasking
from uva_kit.masking.random import RandomMasking, RandomMaskingSpec

TABLE = {
    # mode: (future video, history, action stream, losses)
    "policy": ("absent", "given", "absent", {"action"}),
    "video": ("masked", "given", "absent", {"video"}),
    "forward_dynamics": ("masked", "given", "given", {"video"}),
    "inverse_dynamics": ("given", "absent", "absent", {"action"}),
    "joint": ("masked", "given", "absent", {"video", "action"}),
}


def _capture_streams(model):
    captured = {}

    def hook(module, args):
        captured["streams"] = [s.detach().clone() for s in args[0]]

    return captured, model.backbone.register_forward_pre_hook(hook)


def _state(stream: torch.Tensor, real: torch.Tensor, absent: torch.Tensor) -> str:
    is_absent = torch.isclose(stream, absent.expand_as(stream)).all(dim=-1)
    is_real = torch.isclose(stream, real).all(dim=-1)
    if is_absent.all():
        return "absent"
    if is_real.all():
        return "given"
    assert (is_absent | is_real).all(), "every position is either the real token or the absent vector"
    return "masked"


@pytest.mark.parametrize("mode", sorted(TABLE))
def test_mode_fills_streams_and_losses(tiny_model, tiny_batch, mode):
    model = tiny_model
    captured, handle = _capture_streams(model)
    _, metrics = model.compute_loss(tiny_batch, mode=mode, generator=torch.Generator().manual_seed(1))
    handle.remove()
    future, history, action = captured["streams"]
    video, action_modality = model.modalities["video"], model.modalities["action"]
    with torch.no_grad():
        real_future = video.embed("video", model._frame_tokens(tiny_batch["future_frames"], "f"))
        real_history = video.embed("history", model._frame_tokens(tiny_batch["history_frames"], "h"))
        real_action = action_modality.embed("action", action_modality.prepare(tiny_batch["actions"]))
    expected_future, expected_history, expected_action, losses = TABLE[mode]
    assert _state(future, real_future, video.fake_latent_x) == expected_future
    assert _state(history, real_history, video.fake_latent_x) == expected_history
    assert _state(action, real_action, action_modality.absent) == expected_action
    assert {k.split("/")[1] for k in metrics if k.startswith("loss/")} == losses
    assert metrics["mode"] == mode
    assert metrics["loss"] == pytest.approx(sum(v for k, v in metrics.items() if k.startswith("loss/")), rel=1e-5)


def test_masked_future_hides_the_same_positions_in_every_frame(tiny_model, tiny_batch):
    captured, handle = _capture_streams(tiny_model)
    tiny_model.compute_loss(tiny_batch, mode="video", generator=torch.Generator().manual_seed(3))
    handle.remove()
    grid = tiny_model.grid
    future = captured["streams"][0].reshape(2, grid.frames, grid.tokens_per_frame, -1)
    hidden = torch.isclose(future, tiny_model.modalities["video"].fake_latent_x).all(dim=-1)
    assert (hidden == hidden[:, :1]).all()
    assert (hidden.sum(dim=-1) >= 0.7 * grid.tokens_per_frame).all()


def test_video_loss_is_weighted_by_exactly_the_hidden_tokens(tiny_model, tiny_batch, monkeypatch):
    head = tiny_model.modalities["video"].head
    seen = {}
    original = head.loss

    def spy(z, target, weight=None, generator=None):
        seen["weight"] = weight
        return original(z, target, weight, generator)

    monkeypatch.setattr(head, "loss", spy)
    captured, handle = _capture_streams(tiny_model)
    tiny_model.compute_loss(tiny_batch, mode="joint", generator=torch.Generator().manual_seed(0))
    handle.remove()
    hidden = torch.isclose(captured["streams"][0], tiny_model.modalities["video"].fake_latent_x).all(dim=-1)
    assert torch.equal(seen["weight"], hidden)


def test_video_loss_is_the_mean_over_the_hidden_tokens_only(tiny_model, monkeypatch):
    """Facts 2.1: mask-weighted sum / mask sum of the per-token losses (here stand-ins 0, 1, 2, ...)."""
    grid, head = tiny_model.grid, tiny_model.modalities["video"].head
    per_token = torch.arange(2 * grid.length, dtype=torch.float32)
    monkeypatch.setattr("uva_kit.head.base.diffusion_loss", lambda schedule, model, rows, generator: per_token)
    hidden = torch.zeros(2, grid.length, dtype=torch.bool)
    hidden[0, :3] = hidden[1, -1] = True
    z, target = torch.zeros(2, grid.length, 32), torch.zeros(2, grid.length, grid.channels)
    assert head.loss(z, target, hidden).item() == pytest.approx((0 + 1 + 2 + per_token[-1].item()) / 4)


def test_action_free_batch_trains_only_modes_without_actions(tiny_model, batch_factory):
    batch = batch_factory(with_actions=False)
    generator = torch.Generator().manual_seed(0)
    modes = {tiny_model.compute_loss(batch, generator=generator)[1]["mode"] for _ in range(30)}
    assert modes <= {"video"} and modes
    with pytest.raises(ValueError, match="needs data"):
        tiny_model.compute_loss(batch, mode="policy")


def test_action_free_batch_trains_the_video_head_and_never_the_action_path(tiny_model, batch_factory):
    tiny_model.zero_grad(set_to_none=True)
    loss, _ = tiny_model.compute_loss(batch_factory(with_actions=False), generator=torch.Generator().manual_seed(0))
    loss.backward()
    grads = {name: p.grad for name, p in tiny_model.named_parameters() if p.requires_grad}
    action_path = [n for n in grads if n.startswith(("modalities.action.head.", "modalities.action.proj."))]
    assert action_path and all(grads[n] is None for n in action_path)  # AdamW leaves them as they are
    video_head = [grads[n] for n in grads if n.startswith("modalities.video.head.")]
    assert all(g is not None for g in video_head) and any(g.abs().sum() > 0 for g in video_head)
    tiny_model.zero_grad(set_to_none=True)


def test_mixture_draws_modes_in_proportion_to_their_weights():
    import uva_kit

    model = uva_kit.build(uva_kit.load_spec("pusht-tiny", ["modes.0.weight=4"]))  # policy 4, the other four 1
    generator = torch.Generator().manual_seed(0)
    draws = [model._choose_mode(None, {"video", "history", "action"}, generator).name for _ in range(800)]
    assert set(draws) == set(TABLE)
    assert draws.count("policy") / len(draws) == pytest.approx(0.5, abs=0.06)


def test_random_masking_drops_given_inputs_and_varies_positions_across_frames(batch_factory):
    import uva_kit

    model = uva_kit.build(uva_kit.load_spec("pusht-tiny", ["masking.type=random", "masking.ratio=0.5"]))
    batch = batch_factory()
    captured, handle = _capture_streams(model)
    model.compute_loss(batch, mode="forward_dynamics", generator=torch.Generator().manual_seed(0))
    handle.remove()
    future, history, action = captured["streams"]
    video = model.modalities["video"]
    grid = model.grid
    hidden = torch.isclose(future, video.fake_latent_x).all(dim=-1).reshape(2, grid.frames, grid.tokens_per_frame)
    assert hidden.float().mean().item() == pytest.approx(0.5)
    assert not (hidden == hidden[:, :1]).all()
    dropped_history = torch.isclose(history, video.fake_latent_x).all(dim=-1)
    dropped_actions = torch.isclose(action, model.modalities["action"].absent).all(dim=-1)
    assert dropped_history.float().mean().item() == pytest.approx(0.5)
    assert dropped_actions.float().mean().item() == pytest.approx(0.5)


def test_mar_mask_ratio_follows_the_truncated_normal_of_the_original():
    """One ratio ~ N(1, 0.25) truncated to [0.7, 1] (facts 2.1): its closed-form mean is about 0.867."""
    generator = torch.Generator().manual_seed(0)
    ratios = torch.tensor([MarMasking().ratio(generator) for _ in range(4000)])

    def density(x):
        return math.exp(-x * x / 2) / math.sqrt(2 * math.pi)

    def cdf(x):
        return 0.5 * (1 + math.erf(x / math.sqrt(2)))

    low = (0.7 - 1.0) / 0.25
    mean = 1.0 - 0.25 * (density(0) - density(low)) / (cdf(0) - cdf(low))
    assert 0.7 <= ratios.min() and ratios.max() <= 1.0
    assert ratios.mean().item() == pytest.approx(mean, abs=0.005)  # a uniform ratio would give 0.85


def test_random_masking_hides_exactly_its_ratio_of_every_frame_and_input():
    masking = RandomMasking(RandomMaskingSpec(type="random", ratio=0.25))
    generator = torch.Generator().manual_seed(0)
    assert (masking.future_mask(3, 4, 16, generator=generator).sum(dim=-1) == 4).all()
    assert (masking.input_drop(3, 64, generator=generator).sum(dim=-1) == 16).all()
