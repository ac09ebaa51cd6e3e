"""The contact sound rendering: deterministic, calibrated, frame-aligned, magnitude-only."""

from __future__ import annotations

import math

import pytest
import torch
from uva_kit_sound.synthesis import ContactSound, mel_filterbank

STEPS, FRAMES = 16, 4


def strike(step: int, impulse=(1000.0, 0.0)) -> torch.Tensor:
    impulses = torch.zeros(1, STEPS, 2)
    impulses[0, step] = torch.tensor(impulse)
    return impulses


def test_silence_is_the_floor_and_rendering_is_deterministic():
    sound = ContactSound(floor_db=-60.0)
    assert torch.allclose(sound(torch.zeros(2, STEPS, 2), FRAMES), torch.tensor(-60.0))
    impulses = torch.randn(3, STEPS, 2, generator=torch.Generator().manual_seed(0)) * 800
    assert torch.equal(sound(impulses, FRAMES), ContactSound(floor_db=-60.0)(impulses.clone(), FRAMES))


def test_reference_strike_peaks_at_zero_db_and_twice_the_impulse_adds_six_db():
    sound = ContactSound()
    reference = sound(strike(0), FRAMES)
    assert reference[0, 0].max().item() == pytest.approx(0.0, abs=1e-3)
    louder = sound(strike(0, (1200.0, -1600.0)), FRAMES)  # |J| = 2000
    assert (louder[0, 0].max() - reference[0, 0].max()).item() == pytest.approx(20 * math.log10(2), abs=0.01)


@pytest.mark.parametrize("step", [0, 3, 6, 9, 13])
def test_a_strike_is_heard_in_the_frame_of_its_step(step):
    features = ContactSound()(strike(step), FRAMES)
    loudest = features[0].max(dim=1).values
    assert int(loudest.argmax()) == step // (STEPS // FRAMES)
    earlier = loudest[: step // (STEPS // FRAMES)]
    assert torch.allclose(earlier, torch.tensor(-60.0), atol=0.1)  # nothing before the contact


def test_sound_depends_on_the_strength_not_the_direction():
    sound = ContactSound()
    torch.testing.assert_close(sound(strike(5, (600.0, 800.0)), FRAMES), sound(strike(5, (-1000.0, 0.0)), FRAMES))


def test_mel_filters_cover_the_spectrum_and_peak_at_one():
    filters = mel_filterbank(16, 256, 8000)
    assert filters.shape == (129, 16)
    assert torch.allclose(filters.max(dim=0).values, torch.ones(16), atol=0.15)
    assert (filters.sum(dim=1)[1:-1] > 0).all()
    assert torch.all(filters.argmax(dim=0).diff() > 0)  # centres rise with the band index
