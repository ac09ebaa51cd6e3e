"""conv_vae: training lowers the loss, the trained encoder saves and loads back, mismatches are errors."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

from uva_kit.cli import main
from uva_kit.encoder.checkpoint import RandomWeightsWarning
from uva_kit.encoder.conv_vae import ConvVAEEncoder, ConvVAESpec, save_conv_vae
from uva_kit.encoder.frame_sources import FrameSet, read_frames
from uva_kit.encoder.vae_training import train_vae
from uva_kit.errors import CheckpointError, UvaKitError

TINY = {"ch": 16, "ch_mult": (1, 2), "z_channels": 4, "patch_size": 2, "norm_groups": 8}


def tiny_encoder(**options) -> ConvVAEEncoder:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RandomWeightsWarning)
        return ConvVAEEncoder(ConvVAESpec(type="conv_vae", **(TINY | options)))


def synthetic_frames(count: int, size: int = 16, seed: int = 0) -> np.ndarray:
    """A light background with one random coloured rectangle per frame, uint8 (N, size, size, 3)."""
    rng = np.random.default_rng(seed)
    frames = np.full((count, size, size, 3), 230, dtype=np.uint8)
    for frame in frames:
        top, left = rng.integers(0, size - 4, 2)
        height, width = rng.integers(3, 8, 2)
        frame[top:top + height, left:left + width] = rng.integers(0, 200, 3)
    return frames


@pytest.fixture
def one_thread():
    """Tiny convolutions gain nothing from threads, and lose a lot on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_training_lowers_the_loss_and_sets_the_latent_scale(one_thread):
    encoder = tiny_encoder()
    frames, held_out = synthetic_frames(256), synthetic_frames(32, seed=1)
    before = train_vae(encoder, frames, held_out, steps=1, progress=False).held_out_psnr
    report = train_vae(encoder, frames, held_out, steps=120, batch_size=8, progress=False, seed=1)
    assert report.steps == 120
    assert np.mean(report.losses[-10:]) < 0.5 * np.mean(report.losses[:10])
    assert report.held_out_psnr > before + 3
    assert not any(p.requires_grad for p in encoder.parameters())
    mean, _ = encoder.posterior(torch.from_numpy(frames[:64]).permute(0, 3, 1, 2)[None].float() / 255)
    assert mean.std().item() == pytest.approx(1.0, rel=0.25)  # the latent scale makes latents about unit-variance


def test_saved_encoder_loads_through_its_spec(tmp_path):
    encoder = tiny_encoder()
    encoder.latent_scale.fill_(3.0)
    save_conv_vae(encoder, tmp_path / "vae", {"held_out_psnr": 1.0})
    config = json.loads((tmp_path / "vae" / "config.json").read_text())
    assert config["encoder"]["checkpoint"] is None and config["training"] == {"held_out_psnr": 1.0}
    loaded = ConvVAEEncoder(ConvVAESpec(type="conv_vae", checkpoint=str(tmp_path / "vae"), **TINY))
    assert loaded.latent_scale.item() == 3.0
    for name, tensor in encoder.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor)


def test_architecture_mismatch_names_the_options(tmp_path):
    save_conv_vae(tiny_encoder(), tmp_path / "vae")
    with pytest.raises(CheckpointError, match=r"z_channels=4 \(spec: 8\)"):
        ConvVAEEncoder(ConvVAESpec(type="conv_vae", checkpoint=str(tmp_path / "vae"), **(TINY | {"z_channels": 8})))


def test_invalid_norm_groups_is_a_spec_error():
    with pytest.raises(ValueError, match="norm_groups"):
        ConvVAESpec(type="conv_vae", ch=12, norm_groups=8)


def test_held_out_split_keeps_episodes_whole():
    frames = FrameSet(synthetic_frames(10), np.repeat(np.arange(5), 2))
    train, held_out = frames.held_out_split(0.3)
    assert set(held_out.episode_index) == {3, 4} and set(train.episode_index) == {0, 1, 2}
    single = FrameSet(synthetic_frames(10), np.zeros(10, dtype=np.int64))
    assert len(single.held_out_split(0.3)[1].frames) == 3


def test_frame_files_are_validated(tmp_path):
    np.save(tmp_path / "frames.npy", synthetic_frames(4))
    assert read_frames(tmp_path / "frames.npy").frames.shape == (4, 16, 16, 3)
    np.save(tmp_path / "float.npy", np.zeros((4, 16, 16, 3), dtype=np.float32))
    with pytest.raises(UvaKitError, match="uint8"):
        read_frames(tmp_path / "float.npy")
    with pytest.raises(UvaKitError, match="no frame reader"):
        read_frames(tmp_path)


def test_train_vae_command(tmp_path, capsys, one_thread):
    np.savez(tmp_path / "frames.npz", frames=synthetic_frames(40), episode_index=np.repeat(np.arange(10), 4))
    overrides = [f"--set=encoder.{k}={list(v) if isinstance(v, tuple) else v}" for k, v in TINY.items()]
    code = main(["train-vae", "--frames", str(tmp_path / "frames.npz"), "--out", str(tmp_path / "vae"),
                 "--steps", "3", "--batch-size", "4", *overrides])
    assert code == 0
    assert "held-out PSNR" in capsys.readouterr().out
    config = json.loads((tmp_path / "vae" / "config.json").read_text())
    assert config["training"]["steps"] == 3 and config["training"]["held_out_frames"] == 4
    ConvVAEEncoder(ConvVAESpec(type="conv_vae", checkpoint=str(tmp_path / "vae"), **TINY))


def test_train_vae_command_rejects_other_encoders(tmp_path, capsys):
    np.save(tmp_path / "frames.npy", synthetic_frames(8))
    code = main(["train-vae", "--frames", str(tmp_path / "frames.npy"), "--out", str(tmp_path / "vae"),
                 "--set", "encoder.type=patch"])
    assert code == 2 and "trains a conv_vae" in capsys.readouterr().err
