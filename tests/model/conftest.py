"""Shared fixtures: the pusht-tiny model and a batch with its layout."""

from __future__ import annotations

import pytest
import torch

import uva_kit


def smooth_frames(batch: int, size: int, generator: torch.Generator) -> torch.Tensor:
    """(batch, 4, 3, size, size) frames in [0, 1] made of smooth colour gradients (learnable, unlike pixel noise)."""
    coarse = torch.rand(batch * 4, 3, 2, 2, generator=generator)
    return torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=True).reshape(
        batch, 4, 3, size, size
    )


@pytest.fixture
def tiny_model():
    torch.manual_seed(0)
    return uva_kit.build("pusht-tiny")


def make_batch(batch: int = 2, size: int = 16, seed: int = 0, with_actions: bool = True) -> dict:
    generator = torch.Generator().manual_seed(seed)
    out = {
        "history_frames": smooth_frames(batch, size, generator),
        "future_frames": smooth_frames(batch, size, generator),
    }
    if with_actions:
        out["actions"] = torch.rand(batch, 16, 2, generator=generator) * 2 - 1
    return out


@pytest.fixture
def tiny_batch():
    return make_batch()


@pytest.fixture
def batch_factory():
    return make_batch
