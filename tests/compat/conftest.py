"""Fixtures: synthetic original-format checkpoints (reduced sizes) and their conversions."""

from __future__ import annotations

import pytest
import torch
from original_format import OriginalSizes, policy_state, workspace

from uva_kit.compat import convert_state_dict

SMALL_HEADS = OriginalSizes.small().heads


@pytest.fixture(scope="module")
def small_state():
    """An original PushT-layout policy state dict at reduced size (EMA weights)."""
    return policy_state(OriginalSizes.small(), seed=0)


@pytest.fixture(scope="module")
def small_model(small_state):
    """``small_state`` converted in memory."""
    model, _ = convert_state_dict(small_state, num_heads=SMALL_HEADS)
    return model


@pytest.fixture(scope="module")
def small_checkpoint(tmp_path_factory, small_state):
    """A .ckpt written like the original workspace: raw weights under 'model', EMA under 'ema_model'."""
    path = tmp_path_factory.mktemp("original") / "latest.ckpt"
    torch.save(workspace(policy_state(OriginalSizes.small(), seed=1), small_state), path)
    return path
