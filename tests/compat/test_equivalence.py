"""Numerical equivalence: a converted model computes what the original computes (functional oracle).

The oracle (``original_oracle``) evaluates the original's forward directly from the original
state-dict keys with plain torch ops. Same weights, inputs and noise -> same outputs, to float32
precision: the backbone's latents in every mode, both heads' denoisers, and predict_actions.
"""

from __future__ import annotations

import original_oracle as oracle
import pytest
import torch
from clip_support import save_tiny_clip
from original_format import OriginalSizes, policy_state

import uva_kit
from uva_kit.compat import convert_state_dict

SIZES = OriginalSizes.small()
TOKENS = SIZES.frames * SIZES.side * SIZES.side


def latents(batch, generator, sizes=SIZES):
    return torch.randn(batch, sizes.frames, 16, sizes.side, sizes.side, generator=generator)


def ours_latents(model, mode, batch, *, history=None, future=None, future_mask=None, actions=None, instruction=None):
    data = {}
    if history is not None:
        data["history"] = model._latent_tokens(history, "history")
    if future is not None:
        data["video"] = model._latent_tokens(future, "future")
    if actions is not None:
        data["action"] = model.modalities["action"].prepare(actions)
    with torch.no_grad():
        return model.joint_latents(model.mode(mode), data, batch, future_mask, instruction)


def normalized(state, actions):
    return actions * state["normalizer.params_dict.action.scale"] + state["normalizer.params_dict.action.offset"]


@pytest.mark.parametrize("mode", ["policy", "video", "forward_dynamics", "inverse_dynamics"])
def test_backbone_latents_match_the_original(small_state, small_model, mode):
    generator = torch.Generator().manual_seed(1)
    history, future = latents(2, generator), latents(2, generator)
    mask = (torch.rand(2, SIZES.side * SIZES.side, generator=generator) < 0.8).repeat(1, SIZES.frames)  # same in all frames
    actions = torch.rand(2, SIZES.chunk, SIZES.action_dim, generator=generator) * 300 + 20
    inputs = {
        "policy": dict(history=history),
        "video": dict(history=history, future=future, future_mask=mask),
        "forward_dynamics": dict(history=history, future=future, future_mask=mask, actions=actions),
        "inverse_dynamics": dict(future=future),
    }[mode]
    ours = ours_latents(small_model, mode, 2, **inputs)
    if "actions" in inputs:
        inputs = dict(inputs, actions=normalized(small_state, actions))
    expected = oracle.mar_latents(small_state, SIZES.heads, **inputs)
    assert ours.shape == (2, TOKENS, SIZES.width)
    torch.testing.assert_close(ours, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("modality, prefix, channels", [("video", "model.diffloss.net", 16),
                                                        ("action", "model.diffactloss.net", SIZES.action_dim)])
def test_head_denoisers_match_the_original(small_state, small_model, modality, prefix, channels):
    generator = torch.Generator().manual_seed(2)
    x = torch.randn(64, channels, generator=generator)
    t = torch.randint(0, 1000, (64,), generator=generator)
    c = torch.randn(64, SIZES.width, generator=generator)
    with torch.no_grad():
        ours = small_model.modalities[modality].head.net(x, t, c)
    torch.testing.assert_close(ours, oracle.mlp_adaln(small_state, prefix, x, t, c), rtol=1e-5, atol=1e-5)


def padded(noise: torch.Tensor) -> torch.Tensor:
    """The oracle's (S, ...) noise (initial x, then one draw per step but the last) in our (S + 1, ...) layout,
    whose last entry (the final step's draw) is never used."""
    return torch.cat([noise, torch.zeros_like(noise[:1])])


def test_action_conditions_match_the_original(small_state, small_model):
    z = torch.randn(2, TOKENS, SIZES.width, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        ours = small_model.modalities["action"].head.conditions(z)
    torch.testing.assert_close(ours, oracle.action_conditions(small_state, z, SIZES.frames, SIZES.side), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("steps", [100, 10])
def test_predict_actions_match_the_original_with_aligned_noise(small_state, small_model, steps):
    generator = torch.Generator().manual_seed(4)
    history = latents(2, generator)
    noise = torch.randn(steps, 2 * SIZES.chunk, SIZES.action_dim, generator=generator)
    ours = small_model.predict_actions(history_latents=history, steps=steps,
                                       action_noise=padded(noise.reshape(steps, 2, SIZES.chunk, SIZES.action_dim)))
    expected = oracle.predict_action(small_state, SIZES.heads, history, noise, steps=steps)
    low, high = small_model.action_normalizer.low, small_model.action_normalizer.high
    assert ((ours >= low - 1e-3) & (ours <= high + 1e-3)).all()  # environment units (x0 clamped to [-1, 1])
    torch.testing.assert_close(ours, expected, rtol=1e-5, atol=1e-3)


def test_the_generator_draws_the_documented_sequence(small_model):
    """With a generator, the action noise is one draw of (steps + 1, rows, channels): initial x, then one per step."""
    history = latents(1, torch.Generator().manual_seed(5))
    steps, rows = 10, SIZES.chunk
    noise = torch.randn((steps + 1, rows, SIZES.action_dim), generator=torch.Generator().manual_seed(6))
    explicit = small_model.predict_actions(history_latents=history, steps=steps, action_noise=noise.reshape(steps + 1, 1, rows, -1))
    drawn = small_model.predict_actions(history_latents=history, steps=steps, generator=torch.Generator().manual_seed(6))
    torch.testing.assert_close(drawn, explicit, rtol=0, atol=0)


def test_wrongly_shaped_noise_is_an_error(small_model):
    history = latents(1, torch.Generator().manual_seed(7))
    with pytest.raises(ValueError, match=r"noise must be \(steps \+ 1, rows, channels\)"):
        small_model.predict_actions(history_latents=history, steps=10, action_noise=torch.zeros(9, 1, SIZES.chunk, 2))


def test_language_prefix_matches_the_original(tmp_path_factory):
    """Libero layout: CLIP features -> text_proj_cond -> prefix tokens, dropped after the decoder."""
    sizes = OriginalSizes.small(text_tokens=4, text_dim=12, action_dim=10)
    clip = save_tiny_clip(tmp_path_factory.mktemp("clip"), projection_dim=sizes.text_dim)
    state = policy_state(sizes, seed=8)
    model, sorted_state = convert_state_dict(state, num_heads=sizes.heads, clip_path=clip)
    assert [m.type for m in model.spec.modalities] == ["video", "action", "language"]
    assert model.spec.text_encoder.path == clip and sorted_state.clip  # the CLIP copy is accounted for, not copied
    assert torch.equal(model.backbone.text_pos_embed, state["model.text_pos_embed"])
    assert torch.equal(model.modalities["language"].fake_latent.reshape(1, -1), state["model.fake_latent"])
    history = latents(2, torch.Generator().manual_seed(9), sizes)
    instructions = ["put the bowl on the plate", "open the drawer"]
    ours = ours_latents(model, "policy", 2, history=history, instruction=instructions)
    with torch.no_grad():
        features = model.modalities["language"].text_encoder(instructions)
    expected = oracle.mar_latents(state, sizes.heads, history=history, text=features)
    torch.testing.assert_close(ours, expected, rtol=1e-5, atol=1e-5)


@pytest.fixture(scope="module")
def full_size():
    """(original state, converted model) at uva-b-pusht size: 261M random parameters plus the VAE."""
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    state = policy_state(OriginalSizes.pusht(), seed=10)
    model, _ = convert_state_dict(state)
    yield state, model
    torch.set_num_threads(previous)


@pytest.mark.slow
def test_full_size_pusht_converts_into_the_preset(full_size):
    state, model = full_size
    preset = uva_kit.load_spec("uva-b-pusht")
    for field in ("layout", "encoder", "backbone", "modalities", "sampler", "diffusion", "modes"):
        assert getattr(model.spec, field) == getattr(preset, field), field
    assert sum(p.numel() for name, p in model.named_parameters() if not name.startswith("encoder.")) == 261_079_156
    assert torch.equal(model.backbone.encoder_blocks[11].mlp.fc1.weight, state["model.encoder_blocks.11.mlp.fc1.weight"])


@pytest.mark.slow
def test_full_size_pusht_matches_the_original(full_size):
    """At uva-b-pusht size: backbone latents and predict_actions match the oracle (one sample)."""
    torch.set_num_threads(2)
    state, model = full_size
    sizes = OriginalSizes.pusht()
    generator = torch.Generator().manual_seed(11)
    history = latents(1, generator, sizes)
    noise = torch.randn(100, sizes.chunk, sizes.action_dim, generator=generator)
    captured = []
    hook = model.backbone.register_forward_hook(lambda module, args, output: captured.append(output))
    actions = model.predict_actions(history_latents=history, action_noise=padded(noise.reshape(100, 1, sizes.chunk, -1)))
    hook.remove()
    with torch.no_grad():
        expected = oracle.mar_latents(state, sizes.heads, history=history)
        conditions = oracle.action_conditions(state, expected, sizes.frames, sizes.side).reshape(sizes.chunk, -1)
        normalized_actions = oracle.RespacedCosine(100).sample(
            lambda x, t: oracle.mlp_adaln(state, "model.diffactloss.net", x, t, conditions), noise, 0.95, clip=True)
    torch.testing.assert_close(captured[0], expected, rtol=1e-4, atol=1e-4)
    scale, offset = state["normalizer.params_dict.action.scale"], state["normalizer.params_dict.action.offset"]
    torch.testing.assert_close(actions[0], (normalized_actions - offset) / scale, rtol=1e-4, atol=1e-2)


@pytest.fixture(scope="module")
def kl16_tiny_model():
    """pusht-tiny over the kl-16 VAE (32x32 frames -> 2x2 latent tokens): a sampling posterior, cheaply."""
    from uva_kit.encoder.checkpoint import RandomWeightsWarning

    with pytest.warns(RandomWeightsWarning):
        return uva_kit.build(uva_kit.load_spec("pusht-tiny", ['encoder={type = "kl_f16"}', "layout.image_size=32"]))


def test_posterior_noise_aligns_the_vae_sample(kl16_tiny_model):
    """latents = 0.2325 * (mean + std * noise) of the VAE posterior, as the original's posterior.sample() * 0.2325."""
    model = kl16_tiny_model
    generator = torch.Generator().manual_seed(12)
    frames = torch.rand(1, 4, 3, 32, 32, generator=generator)
    posterior_noise = torch.randn(1, 4, 16, 2, 2, generator=generator)
    action_noise = torch.randn(model.sampler.steps + 1, 1, 16, 2, generator=generator)
    with torch.no_grad():
        mean, logvar = model.encoder.autoencoder.moments(frames.flatten(0, 1) * 2 - 1)
    sampled = (0.2325 * (mean + torch.exp(0.5 * logvar) * posterior_noise.flatten(0, 1))).reshape(1, 4, 16, 2, 2)
    from_frames = model.predict_actions(frames, posterior_noise=posterior_noise, action_noise=action_noise)
    from_latents = model.predict_actions(history_latents=sampled, action_noise=action_noise)
    torch.testing.assert_close(from_frames, from_latents, rtol=1e-5, atol=1e-5)


def test_one_generator_draws_posterior_then_action_noise(kl16_tiny_model):
    model = kl16_tiny_model
    frames = torch.rand(1, 4, 3, 32, 32, generator=torch.Generator().manual_seed(13))
    drawing = torch.Generator().manual_seed(14)
    posterior_noise = torch.randn(1, 4, 16, 2, 2, generator=drawing)
    action_noise = torch.randn((model.sampler.steps + 1, 16, 2), generator=drawing)
    explicit = model.predict_actions(frames, posterior_noise=posterior_noise, action_noise=action_noise[:, None])
    drawn = model.predict_actions(frames, generator=torch.Generator().manual_seed(14))
    torch.testing.assert_close(drawn, explicit, rtol=0, atol=0)


def test_posterior_noise_needs_a_sampling_encoder(kl16_tiny_model):
    frames = torch.rand(1, 4, 3, 16, 16)
    with pytest.raises(ValueError, match="does not sample a posterior"):
        uva_kit.build("pusht-tiny").predict_actions(frames, posterior_noise=torch.zeros(1, 4, 48, 4, 4))
    with pytest.raises(ValueError, match="history_latents are already sampled"):
        kl16_tiny_model.predict_actions(history_latents=torch.zeros(1, 4, 16, 2, 2), posterior_noise=torch.zeros(1, 4, 16, 2, 2))
