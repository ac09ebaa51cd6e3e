"""Every registered encoder builds from its default spec and honours the frames <-> latents contract."""

from __future__ import annotations

import warnings

import pytest
import torch

import uva_kit
from uva_kit.spec import UVASpec, from_dict, to_dict


@pytest.fixture(scope="module", params=uva_kit.registry.list("encoder"))
def encoder(request):
    spec = from_dict(UVASpec, {"encoder": {"type": request.param}}).encoder
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pretrained encoders warn that their weights are random
        return uva_kit.registry.get("encoder", request.param).build(spec)


def test_spec_round_trips(encoder):
    assert from_dict(UVASpec, {"encoder": to_dict(encoder.spec)}).encoder == encoder.spec


def test_encode_decode_shapes(encoder):
    size = 2 * encoder.downsample
    frames = torch.rand(2, 3, 3, size, size)
    latents = encoder.encode(frames)
    assert latents.shape == (2, 3, encoder.latent_channels, 2, 2)
    assert torch.isfinite(latents).all()
    decoded = encoder.decode(latents)
    assert decoded.shape == frames.shape
    assert decoded.min() >= 0 and decoded.max() <= 1


def test_frozen(encoder):
    assert not any(p.requires_grad for p in encoder.parameters())


def test_rejects_frames_that_are_not_five_dimensional(encoder):
    with pytest.raises(ValueError, match=r"\(B, T, 3, H, W\)"):
        encoder.encode(torch.rand(3, 3, encoder.downsample, encoder.downsample))
