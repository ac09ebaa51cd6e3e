"""The window sampler follows UVA's time layout (uva-method-facts 1.1) with Diffusion Policy's edge padding."""

import attrs
import numpy as np
import pytest

from uva_kit.data.windows import WindowSampler, action_start, frame_positions, min_episode_length
from uva_kit.errors import DataError
from uva_kit.spec import LayoutSpec


def test_default_layout_positions_match_the_facts():
    layout = LayoutSpec()
    assert frame_positions(layout).tolist() == [3, 7, 11, 15, 19, 23, 27, 31]
    assert action_start(layout) == 15  # T/2 - 1: actions at steps 15..30
    assert min_episode_length(layout) == 24  # 32 - pad_before 1 - pad_after 7


def test_known_frame_numbers_in_the_middle_first_and_last_window():
    length = 40
    sampler = WindowSampler(np.array([length]), LayoutSpec())
    assert len(sampler) == length - 32 + 7 + 1 + 1  # window starts -1 .. 15

    first = sampler[0]  # starts at step -1: the padded step repeats step 0
    assert first.history.tolist() == [2, 6, 10, 14]
    assert first.future.tolist() == [18, 22, 26, 30]
    assert first.actions.tolist() == list(range(14, 30))

    middle = sampler[6]  # starts at step 5
    assert middle.history.tolist() == [8, 12, 16, 20]
    assert middle.future.tolist() == [24, 28, 32, 36]
    assert middle.actions.tolist() == list(range(20, 36))

    last = sampler[len(sampler) - 1]  # starts at step 15; steps past 39 repeat step 39 (pad_after 7)
    assert last.history.tolist() == [18, 22, 26, 30]
    assert last.future.tolist() == [34, 38, 39, 39]
    assert last.actions.tolist() == list(range(30, 40)) + [39] * 6


def test_windows_never_cross_episodes_and_use_absolute_indices():
    sampler = WindowSampler(np.array([30, 70]), LayoutSpec(), episodes=[1])
    for i in range(len(sampler)):
        window = sampler[i]
        for steps in (window.history, window.future, window.actions):
            assert steps.min() >= 30 and steps.max() <= 69
    assert sampler[0].history.tolist() == [32, 36, 40, 44]


def test_layout_options_are_not_constants():
    layout = attrs.evolve(LayoutSpec(), horizon=12, frame_stride=2, frame_offset=1, history_frames=2,
                          future_frames=3, action_chunk=6, pad_before=0, pad_after=0)
    sampler = WindowSampler(np.array([20]), layout)
    window = sampler[0]
    assert window.history.tolist() == [1, 3]
    assert window.future.tolist() == [5, 7, 9]
    assert window.actions.tolist() == [3, 4, 5, 6, 7, 8]
    assert len(sampler) == 20 - 12 + 1


def test_short_episode_is_an_error_naming_the_episode():
    with pytest.raises(DataError, match=r"episode 1 has 20 steps, fewer than the 24"):
        WindowSampler(np.array([40, 60]), LayoutSpec(), source="demo.zarr")


def test_layout_that_overruns_its_horizon_is_an_error():
    with pytest.raises(DataError, match="does not fit its horizon 24: .* raise layout.horizon to 32 or"):
        WindowSampler(np.array([100]), attrs.evolve(LayoutSpec(), horizon=24))
