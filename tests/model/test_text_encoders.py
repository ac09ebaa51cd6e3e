"""Text encoders (task_embedding; clip from a tiny local model) and the language modality."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from clip_support import save_tiny_clip
from spec_overrides import TINY_LANGUAGE_MODALITIES

import uva_kit
from uva_kit.errors import SpecError


@pytest.fixture(scope="module")
def tiny_clip_path(tmp_path_factory):
    return save_tiny_clip(tmp_path_factory.mktemp("clip"))


def test_clip_loads_local_weights_and_encodes_instructions(tiny_clip_path):
    component = uva_kit.registry.get("text_encoder", "clip")
    encoder = component.build(component.spec_class(type="clip", path=tiny_clip_path))
    out = encoder(["push the t block", "open the drawer", "push the t block"])
    assert out.shape == (3, 12) and encoder.output_dim == 12
    assert torch.equal(out[0], out[2]) and not torch.equal(out[0], out[1])
    assert list(encoder.state_dict()) == []  # frozen CLIP weights stay at their path, not in the model


def test_clip_without_a_path_is_a_clear_error():
    component = uva_kit.registry.get("text_encoder", "clip")
    with pytest.raises(SpecError, match="text_encoder.path"):
        component.build()


def test_task_embedding_lists_or_hashes_instructions():
    component = uva_kit.registry.get("text_encoder", "task_embedding")
    listed = component.build(component.spec_class(type="task_embedding", dim=8, instructions=("push", "pull")))
    assert listed(["push", "Pull ", "push"]).shape == (3, 8)
    assert torch.equal(listed(["push"]), listed(["PUSH"]))
    with pytest.raises(ValueError, match="unknown instruction"):
        listed(["lift"])
    hashed = component.build(component.spec_class(type="task_embedding", dim=8, buckets=16))
    assert torch.equal(hashed(["any text"]), hashed(["any  text"]))


def language_model(overrides=()):
    return uva_kit.build(uva_kit.load_spec("pusht-tiny", [TINY_LANGUAGE_MODALITIES, *overrides]))


def test_language_tokens_are_prepended_and_instructions_change_the_policy(batch_factory, tiny_clip_path):
    model = language_model([f'text_encoder={{type = "clip", path = "{tiny_clip_path}"}}'])
    batch = batch_factory()
    batch["instruction"] = ["push the block", "open the drawer"]
    loss, metrics = model.compute_loss(batch, mode="joint")
    assert torch.isfinite(loss)
    history = batch["history_frames"]
    latents = []
    handle = model.backbone.register_forward_hook(lambda module, args, out: latents.append(out))
    actions = model.predict_actions(history, instruction="push")
    model.predict_actions(history, instruction="pull")
    handle.remove()
    assert actions.shape == (2, 16, 2)
    assert latents[0].shape == (2, 64, 32)  # the 4 text tokens are dropped after the decoder
    assert not torch.allclose(latents[0], latents[1])
    with pytest.raises(ValueError, match="instruction"):
        model.predict_actions(history)


def test_language_defaults_to_task_embedding_and_drops_text_in_training(batch_factory):
    model = language_model(["modalities.2.drop_prob=1.0"])
    assert type(model.modalities["language"].text_encoder).__name__ == "TaskEmbedding"
    language = model.modalities["language"]
    model.train()
    dropped = language.prefix(["a", "b"])
    assert dropped.shape == (2, 4, 32)
    assert torch.equal(dropped, language.fake_latent.expand(2, 4, 32))
    model.eval()
    assert not torch.equal(language.prefix(["a"])[0, 0], language.fake_latent[0, 0])


def test_text_is_dropped_per_sample_at_its_rate():
    model = language_model(["modalities.2.drop_prob=0.3"]).train()
    language = model.modalities["language"]
    prefix = language.prefix(["a"] * 400, generator=torch.Generator().manual_seed(0))
    dropped = (prefix == language.fake_latent).all(dim=-1).all(dim=-1)
    assert dropped.float().mean().item() == pytest.approx(0.3, abs=0.07)  # binomial sd 0.023


def test_instruction_tokens_stand_in_for_the_instruction():
    model = language_model().eval()
    history = torch.rand(2, 4, 3, 16, 16)
    noise = model.sampler.draw_noise(2 * 16, 2, generator=torch.Generator().manual_seed(0))
    tokens = model.instruction_tokens("push the block", 2)
    assert tokens.shape == (2, 4, 32)
    by_text = model.predict_actions(history, instruction="push the block", action_noise=noise)
    assert torch.equal(model.predict_actions(history, instruction=tokens, action_noise=noise), by_text)
    with pytest.raises(ValueError, match=r"instruction tokens must be \(2, 4, 32\)"):
        model.predict_actions(history, instruction=tokens[:1], action_noise=noise)
    with pytest.raises(ValueError, match="reads no instruction"):
        uva_kit.build("pusht-tiny").instruction_tokens("push", 1)


def test_text_encoder_without_language_is_a_spec_error():
    with pytest.raises(SpecError, match="no language modality"):
        uva_kit.build(uva_kit.load_spec("pusht-tiny", ["text_encoder={type = \"task_embedding\"}"]))


def test_a_policy_gives_each_environment_its_instruction_and_says_when_it_has_none():
    model = language_model().eval()
    frames = {"image": torch.rand(2, 3, 16, 16)}
    policy = uva_kit.Policy(model, generator=torch.Generator())
    with pytest.raises(ValueError, match=r"reads an instruction .*: give Policy\(model, instruction=\.\.\.\) or set policy.instruction"):
        policy.select_action(frames)
    latents = []
    model.backbone.register_forward_hook(lambda module, args, out: latents.append(out))
    for instructions in (["push", "push"], ["push", "pull"]):
        policy.instruction = instructions
        policy.reset()
        assert policy.select_action(frames).shape == (2, 2)
    assert torch.equal(latents[0][0], latents[1][0]) and not torch.allclose(latents[0][1], latents[1][1])


def test_a_model_cast_to_another_dtype_reads_instructions_through_clip(tiny_clip_path):
    """CLIP stays float32 outside the model's modules; its features take the model's dtype, as other inputs do."""
    model = language_model([f'text_encoder={{type = "clip", path = "{tiny_clip_path}"}}']).eval().to(torch.float64)
    assert model.predict_actions(torch.rand(2, 4, 3, 16, 16), instruction="push").dtype == torch.float64


def test_a_saved_model_finds_clip_from_any_working_directory(tiny_clip_path, tmp_path, monkeypatch):
    """The spec keeps a relative text_encoder.path as an absolute one: loading elsewhere needs no copy of CLIP there."""
    folder = Path(tiny_clip_path)
    monkeypatch.chdir(folder.parent)
    model = language_model([f'text_encoder={{type = "clip", path = "{folder.name}"}}'])
    assert model.spec.text_encoder.path == str(folder.resolve())
    uva_kit.save(model, tmp_path / "model")
    monkeypatch.chdir(tmp_path)
    loaded = uva_kit.load(tmp_path / "model").eval()
    assert torch.equal(loaded.instruction_tokens("push", 1), model.eval().instruction_tokens("push", 1))
