"""Presets build, name their deviations, and the paper-scale preset has the paper's parameter count."""

from __future__ import annotations

import warnings

import pytest

import uva_kit
from uva_kit.head.base import NarrowHeadWarning

PAPER_TRAINABLE_PARAMETERS = 261.08e6  # uva-method-facts section 5 (PushT), the frozen VAE excluded


def trainable(model) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@pytest.mark.parametrize("name", ["pusht-tiny", "pusht-small", "uva-b-pusht", "uva-b-libero", "uva-action-pusht"])
def test_preset_parses_and_names_its_deviations(name):
    spec = uva_kit.load_spec(name)
    assert spec.name == name
    assert spec.deviations, f"{name} must list how it departs from the paper"


def test_uva_b_pusht_builds_on_cpu_with_the_paper_parameter_count():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # random kl_f16 weights are expected here
        model = uva_kit.build(uva_kit.load_spec("uva-b-pusht"))
    assert abs(trainable(model) - PAPER_TRAINABLE_PARAMETERS) / PAPER_TRAINABLE_PARAMETERS < 0.005
    assert trainable(model.encoder) == 0
    assert model.grid.length == 1024 and model.grid.channels == 16


@pytest.mark.parametrize("name", ["uva-b-pusht", "uva-action-pusht"])
def test_paper_presets_train_with_the_original_batch_for_its_3050_epochs(name):
    """uva-method-facts section 6: batch 32 on each of 8 processes, 3050 epochs. The human PushT set's 202
    training episodes give about 20,500 windows: 641 batches of 32 a epoch, 81 steps on 8 processes."""
    training = uva_kit.load_spec(name).training
    assert training.batch_size == 8 * 32
    steps_per_epoch = -(-641 // 8)
    assert abs(training.steps - 3050 * steps_per_epoch) / training.steps < 0.001


@pytest.mark.parametrize("name", ["uva-b-pusht", "uva-b-libero", "uva-action-pusht"])
def test_paper_presets_warm_up_over_the_originals_samples(name):
    """uva-method-facts section 6: 1000 warm-up steps of the LR scheduler, made before accelerate.prepare and
    stepped by it once per process at every optimizer step: 1000 batches of 32 samples."""
    training = uva_kit.load_spec(name).training
    assert training.warmup_steps * training.batch_size == 1000 * 32


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


@pytest.mark.parametrize("name", ["pusht-tiny", "pusht-small"])
def test_cpu_presets_build_with_heads_at_least_as_wide_as_their_rows(name):
    with warnings.catch_warnings():
        warnings.simplefilter("error", NarrowHeadWarning)
        model = uva_kit.build(name)
    assert model.modalities["video"].head.net.width >= model.grid.channels
    if name == "pusht-small":
        assert 1e6 < trainable(model) < 5e6
        assert model.latent_standardizer is not None  # raw patch tokens are standardized at quickstart scale


def test_a_head_narrower_than_its_rows_warns():
    spec = uva_kit.load_spec("pusht-tiny", ["modalities.0.head.width=32"])  # 48-channel patch tokens
    with pytest.warns(NarrowHeadWarning, match="width 32 is below the 48 channels"):
        uva_kit.build(spec)


def test_summary_and_repr_give_the_parameter_counts_first():
    model = uva_kit.build("pusht-small")
    summary = model.summary().splitlines()
    assert summary[0] == f"UVAModel 'pusht-small' on cpu, torch.float32: {trainable(model):,} trainable parameters"
    assert ["backbone", "mar", f"{trainable(model.backbone):,}"] in [line.split() for line in summary]
    assert repr(model).splitlines()[1].strip() == summary[0].removeprefix("UVAModel ")


@pytest.mark.parametrize("size, advice", [(30, "use 28 or 32"), (3, "use 4")])
def test_an_image_size_off_the_encoder_grid_names_the_closest_sizes(size, advice):
    from uva_kit.errors import SpecError

    with pytest.raises(SpecError, match=f"layout.image_size: {size} is not a multiple .* factor 4: {advice}"):
        uva_kit.build(uva_kit.load_spec("pusht-tiny", [f"layout.image_size={size}"]))
