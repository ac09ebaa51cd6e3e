"""UVA's time layout: which steps of an episode one training sample reads.

A sample is a window of ``horizon`` steps (32) that may start ``pad_before`` steps before the episode and end
``pad_after`` steps after it; out-of-episode steps repeat the first or last step (edge padding, as Diffusion
Policy's SequenceSampler). Frames are taken at window positions ``frame_offset + k * frame_stride``
(3, 7, ..., 31): the first ``history_frames`` are the history (the last one, 15, is "now"), the rest the future.
The action chunk is ``action_chunk`` actions from "now" on (positions 15..30).
"""

from __future__ import annotations

import attrs
import numpy as np

from uva_kit.errors import DataError
from uva_kit.spec import LayoutSpec


@attrs.frozen
class WindowIndices:
    """Episode-absolute step indices of one sample, padding already applied."""

    history: np.ndarray  # (history_frames,)
    future: np.ndarray  # (future_frames,)
    actions: np.ndarray  # (action_chunk,)


def frame_positions(layout: LayoutSpec) -> np.ndarray:
    """Window positions of the history + future frames (default 3, 7, ..., 31)."""
    return layout.frame_offset + layout.frame_stride * np.arange(layout.history_frames + layout.future_frames)


def action_start(layout: LayoutSpec) -> int:
    """Window position of the first action: the last history frame (default 15)."""
    return int(frame_positions(layout)[layout.history_frames - 1])


def check_layout(layout: LayoutSpec) -> None:
    """DataError unless every frame and action position lies inside the window."""
    last_frame = int(frame_positions(layout)[-1])
    last_action = action_start(layout) + layout.action_chunk - 1
    if layout.frame_offset < 0 or last_frame >= layout.horizon or last_action >= layout.horizon:
        raise DataError(
            f"layout does not fit its horizon {layout.horizon}: frames reach position {last_frame} and actions "
            f"{last_action} (positions must be 0..{layout.horizon - 1}); raise layout.horizon to "
            f"{max(last_frame, last_action) + 1} or lower the stride, offset or chunk"
        )


def min_episode_length(layout: LayoutSpec) -> int:
    """Shortest episode that yields at least one window."""
    return max(1, layout.horizon - layout.pad_before - layout.pad_after)


class WindowSampler:
    """Enumerates every window of every episode: ``len(sampler)`` samples, ``sampler[i]`` -> WindowIndices."""

    def __init__(self, episode_ends: np.ndarray, layout: LayoutSpec, episodes=None, source: str = "<dataset>"):
        check_layout(layout)
        self.layout = layout
        ends = np.asarray(episode_ends, dtype=np.int64)
        starts = np.concatenate([[0], ends[:-1]])
        selected = range(len(ends)) if episodes is None else episodes
        self._frame_positions = frame_positions(layout)
        self._action_positions = action_start(layout) + np.arange(layout.action_chunk)
        windows = []  # (episode start, episode length, window start relative to the episode)
        for episode in selected:
            length = int(ends[episode] - starts[episode])
            first, last = -layout.pad_before, length - layout.horizon + layout.pad_after
            if last < first:
                raise DataError(
                    f"{source}: episode {episode} has {length} steps, fewer than the {min_episode_length(layout)} "
                    f"one window needs (horizon {layout.horizon} - pad_before {layout.pad_before} - pad_after "
                    f"{layout.pad_after}); drop short episodes or shorten the layout"
                )
            windows += [(starts[episode], length, s) for s in range(first, last + 1)]
        self._windows = np.array(windows, dtype=np.int64).reshape(-1, 3)

    def __len__(self) -> int:
        return len(self._windows)

    def __getitem__(self, index: int) -> WindowIndices:
        episode_start, length, window_start = self._windows[index]

        def steps(positions):
            return episode_start + np.clip(window_start + positions, 0, length - 1)

        history = self.layout.history_frames
        frames = steps(self._frame_positions)
        return WindowIndices(history=frames[:history], future=frames[history:], actions=steps(self._action_positions))
