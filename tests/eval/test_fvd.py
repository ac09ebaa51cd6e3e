"""FVD: the Fréchet distance on known Gaussians, the I3D input pipeline, FVD(x, x) ~ 0 and FVD(x, y) > 0."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from uva_kit.errors import CheckpointError
from uva_kit.eval.fvd import frechet_distance, fvd, i3d_features, i3d_input
from uva_kit.eval.i3d import InceptionI3d, load_i3d


def test_frechet_distance_of_a_shifted_set_is_the_squared_shift():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(64, 5))
    shift = np.array([1.0, -2.0, 0.0, 0.5, 3.0])
    assert frechet_distance(real, real + shift) == pytest.approx((shift**2).sum(), rel=1e-9)
    assert frechet_distance(real, real) == pytest.approx(0.0, abs=1e-9)


def test_frechet_distance_of_scaled_sets_matches_the_closed_form():
    # equal means, covariances S and 4 S: tr(S) + tr(4S) - 2 tr(2S) = tr(S)
    rng = np.random.default_rng(1)
    real = rng.normal(size=(200, 3))
    real -= real.mean(axis=0)
    expected = np.trace(np.cov(real, rowvar=False))
    assert frechet_distance(real, 2 * real) == pytest.approx(expected, rel=1e-9)


def test_frechet_distance_needs_two_samples():
    with pytest.raises(ValueError, match="N >= 2"):
        frechet_distance(np.zeros((1, 4)), np.zeros((3, 4)))


def test_i3d_input_repeats_short_clips_resizes_and_rescales():
    clips = torch.zeros(2, 4, 3, 16, 32)
    clips[:, 1] = 1.0
    x = i3d_input(clips)
    assert x.shape == (2, 3, 16, 224, 224)  # 4 frames x 4 (repeat-interleave), shorter side 224, centre crop
    torch.testing.assert_close(x[:, :, :4], torch.full_like(x[:, :, :4], -1.0))
    torch.testing.assert_close(x[:, :, 4:8], torch.full_like(x[:, :, 4:8], 1.0))


def he_initialised_i3d(seed: int = 0) -> InceptionI3d:
    """A random I3D whose activations neither vanish nor explode (default init makes every clip look alike)."""
    torch.manual_seed(seed)
    model = InceptionI3d().eval()
    for module in model.modules():
        if isinstance(module, torch.nn.Conv3d):
            torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
    return model


def test_fvd_composes_features_and_distance():
    torch.manual_seed(0)
    features = torch.nn.Sequential(torch.nn.AdaptiveAvgPool3d(2), torch.nn.Flatten(), torch.nn.Linear(24, 8))
    x, y = torch.rand(4, 4, 3, 16, 16), torch.rand(4, 4, 3, 16, 16) * 0.5
    assert fvd(features, x, x) == pytest.approx(0.0, abs=1e-9)
    assert fvd(features, x, y) > 1e-3


@pytest.mark.slow
def test_i3d_fvd_of_a_set_with_itself_is_zero_and_of_another_set_is_positive():
    torch.manual_seed(0)
    i3d = he_initialised_i3d()
    x = torch.rand(2, 4, 3, 16, 16)
    y = torch.rand(2, 4, 3, 16, 16) * 0.5 + 0.5
    features_x, features_y = i3d_features(i3d, x), i3d_features(i3d, y)
    scale = np.abs(features_x).max() ** 2
    assert frechet_distance(features_x, features_x) == pytest.approx(0.0, abs=1e-6 * scale)
    assert frechet_distance(features_x, features_y) > 1e-3 * scale


def test_missing_i3d_weights_say_how_to_convert(monkeypatch, tmp_path):
    monkeypatch.delenv("UVA_KIT_I3D_WEIGHTS", raising=False)
    with pytest.raises(CheckpointError, match="i3d_convert"):
        load_i3d()
    with pytest.raises(CheckpointError, match="does not exist"):
        load_i3d(tmp_path / "nope.safetensors")
    (tmp_path / "bad.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError, match="not a readable safetensors"):
        load_i3d(tmp_path / "bad.safetensors")
