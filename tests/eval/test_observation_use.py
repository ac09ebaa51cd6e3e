"""The 'does the policy look at its frames' check: equal losses for a frame-blind head, different otherwise."""

from __future__ import annotations

import pytest
import torch

import uva_kit
from uva_kit.data import UVADataset, default_pusht_dataset
from uva_kit.eval.observation_use import observation_use


@pytest.fixture(scope="module")
def windows():
    return UVADataset(default_pusht_dataset(), uva_kit.load_spec("pusht-tiny").layout, split="val", image_size=16)


def test_a_freshly_built_head_ignores_the_frames(windows):
    torch.manual_seed(0)
    model = uva_kit.build("pusht-tiny")  # adaLN-zero: the denoiser's output does not depend on its condition yet
    result = observation_use(model, windows, samples=8, draws=2)
    assert result["windows"] == 8
    assert result["action_loss"] == result["action_loss_other_frames"]


def test_a_head_that_reads_its_condition_sees_other_frames(windows):
    torch.manual_seed(0)
    model = uva_kit.build("pusht-tiny")
    denoiser = model.modalities["action"].head.net
    for layer in (denoiser.final_layer.linear, denoiser.final_layer.adaLN_modulation[-1]):
        torch.nn.init.normal_(layer.weight, std=0.5)
    model.train()
    result = observation_use(model, windows, samples=8, draws=2)
    assert result["action_loss"] != pytest.approx(result["action_loss_other_frames"], rel=1e-4)
    assert model.training  # left as it was found
