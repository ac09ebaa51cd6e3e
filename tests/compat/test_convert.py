"""Converting original UVA checkpoints: where every tensor lands, the normalizer, errors, safe reading, CLI."""

from __future__ import annotations

import json
import math
import pickle
from collections import defaultdict
from pathlib import Path

import pytest
import torch
from original_format import OriginalSizes, mar_shapes, policy_state, vae_shapes, vae_state, workspace
from safetensors.torch import save_file

import uva_kit
from uva_kit.cli import main
from uva_kit.compat import config_values, convert_original, convert_state_dict, read_workspace
from uva_kit.errors import CheckpointError

OMEGACONF_WORKSPACE = Path(__file__).parent / "data" / "omegaconf_workspace.ckpt"
HEADS = OriginalSizes.small().heads


def test_synthetic_format_has_the_original_counts():
    """The fake checkpoints follow the documented original: 444 / 449 MAR tensors, 312 VAE tensors."""
    for sizes, tensors, parameters in ((OriginalSizes.pusht(), 444, 261_079_156), (OriginalSizes.libero(), 449, 261_602_948)):
        shapes = mar_shapes(sizes)
        assert (len(shapes), sum(math.prod(s) for s in shapes.values())) == (tensors, parameters)
    assert sum(math.prod(s) for s in vae_shapes().values()) == 66_456_019


def test_known_tensors_land_where_documented(small_state, small_model):
    sd, model = small_state, small_model
    backbone, video, action = model.backbone, model.modalities["video"], model.modalities["action"]
    pairs = [
        (backbone.encoder_blocks[1].attn.qkv.weight, "model.encoder_blocks.1.attn.qkv.weight"),
        (backbone.encoder_blocks[0].attn.proj.bias, "model.encoder_blocks.0.attn.proj.bias"),
        (backbone.decoder_blocks[1].mlp.fc2.weight, "model.decoder_blocks.1.mlp.fc2.weight"),
        (backbone.decoder_embed.weight, "model.decoder_embed.weight"),
        (backbone.fusion.weight, "model.proj_cond_x_layer.weight"),
        (backbone.z_proj_ln.weight, "model.z_proj_ln.weight"),
        (video.z_proj.weight, "model.z_proj.weight"),
        (video.z_proj_cond.bias, "model.z_proj_cond.bias"),
        (video.head.net.res_blocks[1].adaLN_modulation[1].weight, "model.diffloss.net.res_blocks.1.adaLN_modulation.1.weight"),
        (video.head.net.final_layer.linear.weight, "model.diffloss.net.final_layer.linear.weight"),
        (action.proj.weight, "model.action_proj_cond.weight"),
        (action.head.aggregator.conv[0].weight, "model.diffactloss.conv.0.weight"),
        (action.head.aggregator.interpolate.weight, "model.diffactloss.interpolate.weight"),
        (action.head.net.input_proj.weight, "model.diffactloss.net.input_proj.weight"),
    ]
    for ours, original in pairs:
        assert torch.equal(ours, sd[original]), original
    assert torch.equal(video.fake_latent_x.reshape(1, -1), sd["model.fake_latent_x"])
    assert torch.equal(action.absent.reshape(1, -1), sd["model.fake_action_latent"])
    vae = model.encoder.autoencoder.state_dict()
    assert all(torch.equal(vae[name], value) for name, value in vae_state(prefix="").items())


def test_fused_positional_tables_sum_as_documented(small_state, small_model):
    """Sequence position t * S + s carries temporal[t] + spatial[s], for the encoder, decoder and heads."""
    backbone, sd = small_model.backbone, small_state
    for temporal, spatial in (("temporal_pos_embed", "spatial_pos_embed"),
                              ("decoder_temporal_pos_embed", "decoder_spatial_pos_embed"),
                              ("diffusion_temporal_embed", "diffusion_spatial_embed")):
        ours = getattr(backbone, temporal) + getattr(backbone, spatial)
        ours = ours.reshape(-1, ours.shape[-1])
        positions = sd[f"model.{spatial}"].shape[1]
        for t, s in ((0, 0), (1, 5), (3, positions - 1)):
            expected = sd[f"model.{temporal}"][0, t] + sd[f"model.{spatial}"][0, s]
            assert torch.equal(ours[t * positions + s], expected)


def test_every_tensor_is_copied_exactly_once(small_state, small_model):
    """A bijection by value between the original's model and VAE tensors and the converted model's weights."""
    ours = {k: v for k, v in small_model.state_dict().items() if ".normalizer." not in k}
    by_signature = defaultdict(list)
    for value in ours.values():
        by_signature[(value.numel(), round(float(value.double().sum()), 3))].append(value)
    originals = {k: v for k, v in small_state.items() if k.startswith(("model.", "vae_model."))}
    assert len(originals) == len(ours)
    for name, value in originals.items():
        candidates = by_signature[(value.numel(), round(float(value.double().sum()), 3))]
        assert any(torch.equal(c.reshape(value.shape), value) for c in candidates), name


def test_spec_is_inferred_from_the_shapes(small_model):
    spec, sizes = small_model.spec, OriginalSizes.small()
    assert (spec.backbone.width, spec.backbone.depth, spec.backbone.decoder_depth, spec.backbone.num_heads) == (64, 2, 2, 4)
    assert spec.backbone.mlp_ratio == sizes.mlp_hidden / sizes.width
    assert spec.layout.image_size == sizes.side * 16 and spec.layout.action_dim == sizes.action_dim
    video, action = spec.modalities
    assert (video.head.width, video.head.depth) == (sizes.head_width, sizes.head_depth)
    assert (action.head.width, action.head.depth, action.head.pool_size) == (40, 2, 4)
    assert spec.encoder.type == "kl_f16" and spec.sampler.steps == 100 and spec.sampler.temperature == 0.95


def test_normalizer_is_carried_over(small_state, small_model):
    scale = small_state["normalizer.params_dict.action.scale"]
    offset = small_state["normalizer.params_dict.action.offset"]
    actions = torch.tensor([[[12.0, 50.0], [300.0, 120.0]]])
    normalizer = small_model.action_normalizer
    torch.testing.assert_close(normalizer.normalize(actions), actions * scale + offset)
    torch.testing.assert_close(normalizer.unnormalize(torch.tensor([[[-1.0, 1.0]]])), ((torch.tensor([-1.0, 1.0]) - offset) / scale)[None, None])


def test_a_constant_action_dimension_keeps_the_original_map(small_state):
    """The original maps a (near-)constant dimension with scale 1 and offset -min; so does the conversion."""
    state = dict(small_state)
    state["normalizer.params_dict.action.scale"] = torch.tensor([1.0, 0.01])
    state["normalizer.params_dict.action.offset"] = torch.tensor([-7.0, -1.3])
    model, _ = convert_state_dict(state, num_heads=HEADS)
    torch.testing.assert_close(model.action_normalizer.normalize(torch.tensor([[7.0, 100.0]])), torch.tensor([[0.0, -0.3]]))


def test_round_trip_through_a_checkpoint_file_uses_ema_by_default(small_checkpoint, small_model, tmp_path):
    report = convert_original(small_checkpoint, tmp_path / "ema", num_heads=HEADS)
    loaded = uva_kit.load(tmp_path / "ema")
    expected = small_model.state_dict()
    assert all(torch.equal(v, expected[k]) for k, v in loaded.state_dict().items())
    assert report.weights == "ema_model" and report.copied == len(expected) - 2
    config = json.loads((tmp_path / "ema" / "config.json").read_text())
    assert config["converted_from"] == {"file": "latest.ckpt", "weights": "ema_model",
                                        "original_config": {"name": "train_uva", "task": {"name": "pusht"}}}


def test_raw_weights_on_request(small_checkpoint, tmp_path):
    convert_original(small_checkpoint, tmp_path / "raw", weights="raw", num_heads=HEADS)
    raw = policy_state(OriginalSizes.small(), seed=1)
    loaded = uva_kit.load(tmp_path / "raw")
    assert torch.equal(loaded.backbone.fusion.weight, raw["model.proj_cond_x_layer.weight"])


def test_cli_converts_and_reports(small_checkpoint, tmp_path, capsys):
    assert main(["convert", "original", str(small_checkpoint), "--out", str(tmp_path / "m"), "--num-heads", str(HEADS)]) == 0
    out = capsys.readouterr().out
    assert "452 tensors copied" in out and "agent_pos, image" in out and str(tmp_path / "m") in out
    assert uva_kit.load(tmp_path / "m").spec.backbone.num_heads == HEADS


def test_cli_reports_a_missing_ema_cleanly(tmp_path, small_state, capsys):
    path = tmp_path / "no_ema.ckpt"
    torch.save(workspace(small_state), path)
    assert main(["convert", "original", str(path), "--out", str(tmp_path / "m"), "--num-heads", str(HEADS)]) == 2
    assert "no 'ema_model'" in capsys.readouterr().err


def test_unmapped_missing_and_misshaped_tensors_are_all_listed(small_state):
    state = dict(small_state)
    state["model.history_action_proj.weight"] = torch.zeros(64, 2)
    del state["model.decoder_blocks.1.mlp.fc1.bias"]
    state["model.diffloss.net.res_blocks.0.mlp.0.weight"] = torch.zeros(48, 47)
    with pytest.raises(CheckpointError) as error:
        convert_state_dict(state, num_heads=HEADS)
    message = str(error.value)
    assert "1 unmapped tensors" in message and "model.history_action_proj.weight" in message
    assert "1 missing tensors" in message and "model.decoder_blocks.1.mlp.fc1.bias" in message
    assert "1 shape mismatches" in message
    assert "model.diffloss.net.res_blocks.0.mlp.0.weight (48, 47) -> modalities.video.head.net.res_blocks.0.mlp.0.weight " \
           "expects (48, 48)" in message


def test_a_spec_that_does_not_fit_is_an_error(small_state):
    with pytest.raises(CheckpointError, match="shape mismatches"):
        convert_state_dict(small_state, spec="uva-b-pusht", overrides=["backbone.depth=2", "backbone.decoder_depth=2"])


def test_missing_action_normalizer_is_an_error(small_state):
    state = {k: v for k, v in small_state.items() if not k.startswith("normalizer.params_dict.action.")}
    with pytest.raises(CheckpointError, match="environment units"):
        convert_state_dict(state, num_heads=HEADS)


def test_vae_from_its_own_file(small_state, tmp_path):
    vae_file = tmp_path / "kl16.safetensors"
    save_file({k: v.contiguous() for k, v in vae_state(prefix="").items()}, str(vae_file))
    without_vae = {k: v for k, v in small_state.items() if not k.startswith("vae_model.")}
    with pytest.raises(CheckpointError, match="--vae"):
        convert_state_dict(without_vae, num_heads=HEADS)
    model, _ = convert_state_dict(without_vae, num_heads=HEADS, vae=vae_file)
    assert model.spec.encoder.checkpoint == str(vae_file.resolve())
    assert torch.equal(model.encoder.autoencoder.quant_conv.bias, small_state["vae_model.quant_conv.bias"])
    different = dict(small_state, **{"vae_model.quant_conv.bias": torch.zeros(32)})
    with pytest.raises(CheckpointError, match="differ from .* in 1 tensors"):
        convert_state_dict(different, num_heads=HEADS, vae=vae_file)


def test_an_omegaconf_config_is_read_through_inert_stand_ins():
    with pytest.raises(pickle.UnpicklingError):
        torch.load(OMEGACONF_WORKSPACE, weights_only=True)  # the fixture really needs the allow-list
    data = read_workspace(OMEGACONF_WORKSPACE)
    config = config_values(data["cfg"])
    assert config["task"]["name"] == "pusht" and config["model"]["policy"]["optimizer"]["betas"] == [0.9, 0.95]
    assert config["model"]["policy"]["shape_meta"] == "${task.shape_meta}"
    assert torch.equal(data["state_dicts"]["ema_model"]["model.fake_latent_x"], torch.arange(4.0).reshape(1, 4))


CALLS: list[str] = []


def record_call(text: str) -> None:
    CALLS.append(text)


class Payload:
    """Unpickling this would call record_call: a stand-in for code a malicious checkpoint runs."""

    def __reduce__(self):
        return record_call, ("unpickled",)


def test_an_unexpected_pickled_object_is_refused_without_running_it(tmp_path, small_state):
    path = tmp_path / "payload.ckpt"
    torch.save({"cfg": Payload(), "state_dicts": {"ema_model": {}}}, path)
    with pytest.raises(CheckpointError, match=r"test_convert\.record_call.*not on the allow-list"):
        read_workspace(path)
    assert CALLS == []


def test_a_file_that_is_not_a_checkpoint_is_an_error(tmp_path):
    path = tmp_path / "latest.ckpt"
    path.write_bytes(b"not a zip archive")
    with pytest.raises(CheckpointError, match="not a torch checkpoint"):
        read_workspace(path)
    with pytest.raises(CheckpointError, match="does not exist"):
        read_workspace(tmp_path / "absent.ckpt")
