"""Presets build, name their deviations, and the paper-scale preset has the paper's parameter count."""

from __future__ import annotations

import warnings

import pytest

import uva_kit

PAPER_TRAINABLE_PARAMETERS = 261.08e6  # uva-method-facts section 5 (PushT), the frozen VAE excluded


def trainable(model) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@pytest.mark.parametrize("name", ["pusht-tiny", "pusht-small", "uva-b-pusht", "uva-b-libero", "uva-action-pusht"])
def test_preset_parses_and_names_its_deviations(name):
    spec = uva_kit.load_spec(name)
    assert spec.name == name
    assert spec.deviations, f"{name} must list how it departs from the paper"


def test_uva_b_pusht_builds_on_cpu_with_the_paper_parameter_count():
    if "kl_f16" not in uva_kit.registry.list("encoder"):
        pytest.skip("the kl_f16 encoder (branch 'encoders') is not registered in this checkout")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # random kl_f16 weights are expected here
        model = uva_kit.build(uva_kit.load_spec("uva-b-pusht"))
    assert abs(trainable(model) - PAPER_TRAINABLE_PARAMETERS) / PAPER_TRAINABLE_PARAMETERS < 0.005
    assert trainable(model.encoder) == 0
    assert model.grid.length == 1024 and model.grid.channels == 16


def test_uva_action_pusht_trains_the_policy_only():
    spec = uva_kit.load_spec("uva-action-pusht")
    assert [m.mode.type for m in spec.modes] == ["policy"]
    video = next(m for m in spec.modalities if m.type == "video")
    assert video.predict is False


def test_uva_b_libero_conditions_on_language_through_clip():
    spec = uva_kit.load_spec("uva-b-libero")
    assert spec.layout.action_dim == 10
    assert "language" in [m.type for m in spec.modalities]
    assert spec.text_encoder.type == "clip"


def test_pusht_small_builds():
    model = uva_kit.build("pusht-small")
    assert 1e6 < trainable(model) < 5e6
