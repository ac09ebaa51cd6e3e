"""Frame-token standardization: measured on training frames by fit, applied on the way in, undone on the way out."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

import uva_kit
from uva_kit import load_spec
from uva_kit.modality.latent_standardizer import LatentStandardizer

sys.path.insert(0, str(Path(__file__).parents[1] / "train"))
from synthetic import SyntheticWindows  # noqa: E402

STANDARDIZED_TINY = ["modalities.0.standardize=true"]


def test_fit_removes_each_positions_mean_and_each_channels_spread():
    generator = torch.Generator().manual_seed(0)
    positions, channels = 6, 3
    mean = torch.randn(positions, channels, generator=generator) * 5
    spread = torch.tensor([0.1, 1.0, 3.0])
    tokens = (mean + spread * torch.randn(4000, 2, positions, channels, generator=generator)).reshape(4000, 2 * positions, channels)

    standardizer = LatentStandardizer(positions, channels)
    assert torch.equal(standardizer.standardize(tokens), tokens)  # the identity until fitted
    standardizer.fit(tokens)
    standardized = standardizer.standardize(tokens).reshape(-1, positions, channels)
    assert standardized.mean(dim=0).abs().max() < 0.1
    assert torch.allclose(standardized.std(dim=(0, 1)), torch.ones(channels), atol=0.05)
    assert torch.allclose(standardizer.unstandardize(standardizer.standardize(tokens)), tokens, atol=1e-4)


def test_fit_rejects_tokens_of_another_grid():
    with pytest.raises(ValueError, match=r"\(N, frames \* 6, 3\)"):
        LatentStandardizer(6, 3).fit(torch.zeros(2, 7, 3))


def test_training_measures_the_statistics_and_the_checkpoint_keeps_them(tmp_path):
    from uva_kit.train import fit

    spec = load_spec("pusht-tiny", [*STANDARDIZED_TINY, "training.steps=1", "training.batch_size=4", "training.warmup_steps=0"])
    dataset = SyntheticWindows(size=8, image_size=16)
    result = fit(spec, dataset, tmp_path / "run", progress=False)
    model = uva_kit.load(result.checkpoint / "pretrained_model")

    latents = model.encode_frames(dataset.history)
    tokens = latents.permute(0, 1, 3, 4, 2).reshape(len(dataset), -1, latents.shape[2])
    expected = LatentStandardizer(model.grid.tokens_per_frame, model.grid.channels)
    expected.fit(tokens)
    assert torch.allclose(model.latent_standardizer.mean, expected.mean)
    assert torch.allclose(model.latent_standardizer.std, expected.std)
    assert not torch.equal(model.latent_standardizer.std, torch.ones_like(expected.std))

    # Generated tokens are un-standardized before decoding: frames come back in the data's pixel range.
    frames = model.generate_video(dataset.history[:2], generator=torch.Generator().manual_seed(0))
    assert frames.shape == (2, 4, 3, 16, 16)


def test_standardized_tokens_reach_the_backbone_and_decode_back_to_the_frames():
    torch.manual_seed(0)
    model = uva_kit.build(load_spec("pusht-tiny", STANDARDIZED_TINY))
    dataset = SyntheticWindows(size=8, image_size=16)
    from uva_kit.train.loop import fit_latent_standardizer

    fit_latent_standardizer(model, dataset)
    frames = model.resize_frames(dataset.history)
    tokens = model._frame_tokens(frames, "history_frames")
    by_position = tokens.reshape(len(dataset), -1, model.grid.tokens_per_frame, model.grid.channels)
    assert by_position.mean(dim=(0, 1)).abs().max() < 1e-4
    assert torch.allclose(by_position.std(dim=(0, 1, 2), correction=0), torch.ones(model.grid.channels), atol=1e-3)
    assert torch.allclose(model.decode_latents(model._tokens_to_latents(tokens)), frames, atol=1e-5)
