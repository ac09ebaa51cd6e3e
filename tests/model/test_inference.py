"""Public inference methods: documented shapes, seeded determinism, the action path skipping video, Policy."""

from __future__ import annotations

import pytest
import torch

import uva_kit
from uva_kit.errors import SpecError
from uva_kit.model.normalizer import RangeNormalizer


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_every_public_method_returns_the_documented_shapes(tiny_model, tiny_batch):
    history, future, actions = tiny_batch["history_frames"], tiny_batch["future_frames"], tiny_batch["actions"]
    frames_shape = (2, 4, 3, 16, 16)
    assert tiny_model.predict_actions(history).shape == (2, 16, 2)
    assert tiny_model.generate_video(history, num_iter=2).shape == frames_shape
    assert tiny_model.forward_dynamics(history, actions).shape == frames_shape
    assert tiny_model.inverse_dynamics(history, future).shape == (2, 16, 2)
    plan = tiny_model.plan(history, num_iter=3)
    assert plan.actions.shape == (2, 16, 2) and plan.frames.shape == frames_shape
    latents = tiny_model.encode_frames(history)
    assert latents.shape == (2, 4, 48, 4, 4)
    assert tiny_model.decode_latents(latents).shape == frames_shape
    assert tiny_model.predict_actions(history_latents=latents).shape == (2, 16, 2)


def test_frames_of_another_size_are_resized_to_the_layout(tiny_model):
    frames = torch.rand(1, 4, 3, 96, 96)
    assert tiny_model.generate_video(frames).shape == (1, 4, 3, 16, 16)


@pytest.mark.parametrize("method", ["predict_actions", "generate_video", "forward_dynamics", "inverse_dynamics", "plan"])
def test_seeded_calls_are_deterministic(tiny_model, tiny_batch, method):
    args = {
        "predict_actions": (tiny_batch["history_frames"],),
        "generate_video": (tiny_batch["history_frames"], 2),
        "forward_dynamics": (tiny_batch["history_frames"], tiny_batch["actions"]),
        "inverse_dynamics": (tiny_batch["history_frames"], tiny_batch["future_frames"]),
        "plan": (tiny_batch["history_frames"], 2),
    }[method]
    call = getattr(tiny_model, method)
    first, second, other = call(*args, generator=seeded(5)), call(*args, generator=seeded(5)), call(*args, generator=seeded(6))
    first, second, other = (torch.cat([t.flatten() for t in x]) if isinstance(x, tuple) else x for x in (first, second, other))
    assert torch.equal(first, second)
    assert not torch.equal(first, other)


def test_predict_actions_never_calls_the_video_head(tiny_model, tiny_batch):
    video_head = tiny_model.modalities["video"].head
    calls = []
    handles = [m.register_forward_hook(lambda *_: calls.append(1)) for m in video_head.modules()]
    tiny_model.predict_actions(tiny_batch["history_frames"])
    assert calls == []
    tiny_model.generate_video(tiny_batch["history_frames"])  # the hooks do fire when video is decoded
    assert calls
    for handle in handles:
        handle.remove()


def test_predict_actions_runs_the_backbone_once(tiny_model, tiny_batch):
    calls = []
    handle = tiny_model.backbone.register_forward_hook(lambda *_: calls.append(1))
    tiny_model.predict_actions(tiny_batch["history_frames"])
    handle.remove()
    assert len(calls) == 1


def test_generation_reveals_the_same_positions_in_every_frame(tiny_model, tiny_batch):
    """Each pass hides the same positions in every frame, on MAR's cosine schedule, and shows only tokens that an
    earlier pass generated; at the end every token is generated."""
    video, grid = tiny_model.modalities["video"], tiny_model.grid
    with torch.no_grad():
        ungenerated = video.embed("video", torch.zeros(1, grid.length, grid.channels))[0, 0]  # the tokens start at 0
    masks, shown_ungenerated, final = [], [], {}

    def hook(module, args):
        future = args[0][0]
        hidden = torch.isclose(future, video.fake_latent_x).all(dim=-1)
        masks.append(hidden.reshape(2, 4, 16))
        shown_ungenerated.append(bool((~hidden & torch.isclose(future, ungenerated).all(dim=-1)).any()))

    to_latents = tiny_model._tokens_to_latents

    def spy_to_latents(tokens):
        final["tokens"] = tokens.clone()
        return to_latents(tokens)

    tiny_model._tokens_to_latents = spy_to_latents
    handle = tiny_model.backbone.register_forward_pre_hook(hook)
    tiny_model.generate_video(tiny_batch["history_frames"], num_iter=4, generator=seeded())
    handle.remove()
    assert len(masks) == 4
    assert masks[0].all()
    counts = [int(m[0, 0].sum()) for m in masks]
    assert counts == [16, 14, 11, 6]  # MAR's cosine schedule: floor(16 cos(pi/2 * k/4)), k = 0..3
    for mask in masks:
        assert (mask == mask[:, :1]).all()
    assert shown_ungenerated == [False] * 4
    assert (final["tokens"].abs().amax(dim=-1) > 0).all()


def test_inference_restores_training_mode(tiny_model, tiny_batch):
    tiny_model.train()
    tiny_model.predict_actions(tiny_batch["history_frames"])
    assert tiny_model.training and not tiny_model.encoder.training


def test_action_normalizer_maps_environment_units(tiny_model, tiny_batch):
    normalizer = tiny_model.action_normalizer
    normalizer.set_range([0.0, 0.0], [512.0, 512.0])
    assert torch.allclose(normalizer.normalize(torch.tensor([[0.0, 512.0]])), torch.tensor([[-1.0, 1.0]]))
    actions = tiny_model.predict_actions(tiny_batch["history_frames"], generator=seeded())
    assert actions.min() >= 0 and actions.max() <= 512  # the action sampler clamps x0 to [-1, 1]
    assert "modalities.action.normalizer.high" in tiny_model.state_dict()


def test_a_fitted_normalizer_is_the_originals_limits_normalizer():
    """Diffusion Policy's LinearNormalizer._fit ("limits", range_eps 1e-4): a (near-)constant dimension gets
    scale 1 and offset (output_max + output_min) / 2 - min, so its value maps to 0, the middle of [-1, 1]."""
    low, high = torch.tensor([5.0, 0.0, 300.0]), torch.tensor([5.0, 10.0, 300.00005])  # dims 0 and 2 (near-)constant
    input_range = high - low
    ignore = input_range < 1e-4
    input_range[ignore] = 2.0
    scale = 2.0 / input_range
    offset = -1.0 - scale * low
    offset[ignore] = 0.0 - low[ignore]
    normalizer = RangeNormalizer(3)
    normalizer.set_range(low, high)
    values = torch.tensor([[5.0, 0.0, 300.0], [5.5, 10.0, 300.00005]])
    torch.testing.assert_close(normalizer.normalize(values), values * scale + offset)
    torch.testing.assert_close(normalizer.normalize(values)[0], torch.tensor([0.0, -1.0, 0.0]))
    torch.testing.assert_close(normalizer.unnormalize(values * scale + offset), values)


def test_a_normalizer_saved_with_a_constant_dimension_keeps_its_map():
    """Models saved before constant dimensions were fitted as the original's stored low == high and were
    trained with that dimension mapped to -1 (scale 1, offset -1 - low): loading them keeps that map."""
    saved = {"low": torch.tensor([5.0, 0.0]), "high": torch.tensor([5.0, 10.0])}
    normalizer = RangeNormalizer(2)
    normalizer.load_state_dict(saved)
    values = torch.tensor([[5.0, 0.0], [5.5, 10.0]])
    torch.testing.assert_close(normalizer.normalize(values), torch.tensor([[-1.0, -1.0], [-0.5, 1.0]]))
    torch.testing.assert_close(normalizer.unnormalize(normalizer.normalize(values)), values)


def test_normalizer_range_of_the_wrong_width_is_a_clear_error(tiny_model):
    with pytest.raises(ValueError, match=r"normalizer range needs 2 values per bound, got low=\[0.0\]"):
        tiny_model.action_normalizer.set_range([0.0], [1.0])


def test_action_only_model_has_no_video_head():
    spec = uva_kit.load_spec("pusht-tiny", ["modalities.0.predict=false", "modes=[{mode = {type = \"policy\"}}]"])
    model = uva_kit.build(spec)
    assert model.modalities["video"].head is None
    assert model.predict_actions(torch.rand(1, 4, 3, 16, 16)).shape == (1, 16, 2)
    with pytest.raises(SpecError, match="no video head"):
        model.generate_video(torch.rand(1, 4, 3, 16, 16))


def test_a_mode_training_a_missing_head_is_a_spec_error():
    with pytest.raises(SpecError, match="trains 'video'"):
        uva_kit.build(uva_kit.load_spec("pusht-tiny", ["modalities.0.predict=false"]))


def test_policy_replans_every_n_steps_and_encodes_only_new_frames(tiny_model):
    policy = uva_kit.Policy(tiny_model, generator=seeded())
    encoded, planned = [], []
    encode, predict = tiny_model.encode_posterior, tiny_model.predict_actions

    def spy_encode(frames):
        encoded.append(frames.shape[1])
        return encode(frames)

    def spy_predict(*args, **kwargs):
        planned.append(kwargs["history_latents"].shape)
        return predict(*args, **kwargs)

    tiny_model.encode_posterior, tiny_model.predict_actions = spy_encode, spy_predict
    actions = [policy.select_action({"image": torch.rand(3, 16, 16)}) for _ in range(24)]
    assert actions[0].shape == (2,)
    assert len(planned) == 3 and planned[0] == (1, 4, 48, 4, 4)
    assert encoded == [1, 2, 2]  # step 0: the first frame fills the window; later: the two new frames
    policy.reset()
    batched = policy.select_action({"image": torch.rand(5, 3, 16, 16)})
    assert batched.shape == (5, 2)


def test_policy_history_is_the_frames_12_8_4_and_0_steps_back_in_order(tiny_model):
    """Plans at steps 0, 8, 16 see the frames of steps (0, 0, 0, 0), (0, 0, 4, 8), (4, 8, 12, 16): steps
    before the episode repeat its first frame."""
    policy = uva_kit.Policy(tiny_model, generator=seeded())
    planned = []
    predict = tiny_model.predict_actions

    def spy_predict(*args, **kwargs):
        planned.append(kwargs["history_latents"])
        return predict(*args, **kwargs)

    tiny_model.predict_actions = spy_predict
    frames = [torch.full((3, 16, 16), step / 16) for step in range(17)]  # a different frame at every step
    for frame in frames:
        policy.select_action({"image": frame})
    for latents, steps in zip(planned, [(0, 0, 0, 0), (0, 0, 4, 8), (4, 8, 12, 16)], strict=True):
        expected = tiny_model.encode_frames(torch.stack([frames[s] for s in steps])[None])
        torch.testing.assert_close(latents, expected)


def test_policy_executes_the_first_actions_of_the_chunk(tiny_model):
    policy = uva_kit.Policy(tiny_model, n_action_steps=4, generator=seeded(1))
    image = torch.rand(3, 16, 16)
    got = torch.stack([policy.select_action({"image": image}) for _ in range(4)])
    expected = tiny_model.predict_actions(image[None, None].expand(1, 4, 3, 16, 16), generator=seeded(1))[0, :4]
    assert torch.allclose(got, expected)


def test_predict_modality_samples_any_head_under_a_mode(tiny_model, tiny_batch):
    history, future = tiny_batch["history_frames"], tiny_batch["future_frames"]
    assert torch.equal(tiny_model.predict_modality("action", history, generator=seeded(), steps=3),
                       tiny_model.predict_actions(history, generator=seeded(), steps=3))
    assert torch.equal(
        tiny_model.predict_modality("action", mode="inverse_dynamics", future_frames=future, generator=seeded(), steps=3),
        tiny_model.inverse_dynamics(history, future, generator=seeded(), steps=3),
    )
    with pytest.raises(SpecError, match="no head for 'force'"):
        tiny_model.predict_modality("force", history)
    with pytest.raises(ValueError, match="masks the future video"):
        tiny_model.predict_modality("action", history, mode="joint")
    with pytest.raises(ValueError, match="'force' is not a stream modality of this model"):
        tiny_model.predict_actions(history, inputs={"force": torch.zeros(2, 16, 2)})


def test_policy_replanning_every_step_encodes_one_new_frame_per_step(tiny_model):
    """Once a frame is encoded its encoding is kept, so each control step encodes only the newest frame."""
    policy = uva_kit.Policy(tiny_model, n_action_steps=1, generator=seeded())
    encoded = []
    encode = tiny_model.encode_posterior

    def spy_encode(frames):
        encoded.append(frames.shape[1])
        return encode(frames)

    tiny_model.encode_posterior = spy_encode
    for _ in range(20):  # past the 16-step window: the history is full from step 15 on
        policy.select_action({"image": torch.rand(3, 16, 16)})
    assert encoded == [1] * 20


@pytest.mark.parametrize("frames, message", [
    (lambda h: h * 255, r"in \[0, 1\], got values in \[.*, 2\d\d.*divide 0..255 pixels by 255"),
    (lambda h: h * 2 - 1, r"map \[-1, 1\] frames with \(x \+ 1\) / 2"),
    (lambda h: h.masked_fill(h > 0.9, float("nan")), "must be finite"),
    (lambda h: (h * 255).to(torch.uint8), "must be floats in \\[0, 1\\], got torch.uint8: divide"),
])
def test_frames_that_are_not_floats_in_0_1_are_refused(tiny_model, tiny_batch, frames, message):
    """Pixels in 0..255, frames in [-1, 1] or NaNs would otherwise encode to latents far off the training ones."""
    history, future = tiny_batch["history_frames"], tiny_batch["future_frames"]
    with pytest.raises(ValueError, match=message):
        tiny_model.predict_actions(frames(history))
    with pytest.raises(ValueError, match=message):
        tiny_model.inverse_dynamics(history, frames(future))
    with pytest.raises(ValueError, match=message):
        uva_kit.Policy(tiny_model).select_action({"image": frames(history[:, 0])})


def test_the_policy_says_when_an_image_is_channels_last(tiny_model):
    with pytest.raises(ValueError, match=r"got \(96, 96, 3\): channels last\? move them first"):
        uva_kit.Policy(tiny_model).select_action({"image": torch.rand(96, 96, 3)})


def test_frames_without_a_batch_dimension_or_with_channels_last_say_how_to_fix_them(tiny_model, tiny_batch):
    history = tiny_batch["history_frames"]
    with pytest.raises(ValueError, match=r"got \(4, 3, 16, 16\): one sample\? add the batch dimension with frames\[None\]"):
        tiny_model.predict_actions(history[0])
    with pytest.raises(ValueError, match=r"got \(2, 4, 16, 16, 3\): channels last\? .*permute\(0, 1, 4, 2, 3\)"):
        tiny_model.predict_actions(history.permute(0, 1, 3, 4, 2))


def test_the_policy_says_that_obs_is_a_dict(tiny_model):
    with pytest.raises(TypeError, match=r"obs must be a dict such as \{'image': frame\}, got a Tensor; .*policy_observation"):
        uva_kit.Policy(tiny_model).select_action(torch.rand(3, 16, 16))


def test_inputs_that_disagree_on_the_batch_size_are_refused(tiny_model, tiny_batch):
    history, future, actions = tiny_batch["history_frames"], tiny_batch["future_frames"], tiny_batch["actions"]
    with pytest.raises(ValueError, match=r"disagree on the batch size: B = 2 from the frames, but \{'video': 1\}; give"):
        tiny_model.inverse_dynamics(history, future[:1])
    with pytest.raises(ValueError, match="disagree on the batch size"):
        tiny_model.forward_dynamics(history, actions[:1])


def test_ambiguous_or_ignored_inputs_are_refused(tiny_model, tiny_batch):
    history = tiny_batch["history_frames"]
    with pytest.raises(ValueError, match="no language modality: it cannot read an instruction"):
        tiny_model.predict_actions(history, instruction="push the T")
    with pytest.raises(ValueError, match="history_frames or history_latents, not both"):
        tiny_model.predict_actions(history, history_latents=tiny_model.encode_frames(history))


def test_numpy_inputs_act_as_tensors(tiny_model, tiny_batch):
    history, actions = tiny_batch["history_frames"], tiny_batch["actions"]
    assert torch.equal(tiny_model.predict_actions(history.numpy(), generator=seeded()),
                       tiny_model.predict_actions(history, generator=seeded()))
    assert torch.equal(tiny_model.forward_dynamics(history.numpy(), actions.numpy(), generator=seeded()),
                       tiny_model.forward_dynamics(history, actions, generator=seeded()))
