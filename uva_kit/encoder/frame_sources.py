"""Reading image frames for VAE training: uint8 (N, H, W, 3) arrays from files, and a held-out split.

Readers are looked up by file suffix in ``FRAME_READERS`` (``"dir"`` for directories), so dataset
formats can add theirs. Built in: ``.npz`` (key ``frames``, optional ``episode_index``) and ``.npy``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import attrs
import numpy as np

from uva_kit.errors import UvaKitError


@attrs.frozen
class FrameSet:
    """Frames (N, H, W, 3) uint8 and the episode each comes from (N,)."""

    frames: np.ndarray
    episode_index: np.ndarray

    def __attrs_post_init__(self):
        if self.frames.dtype != np.uint8 or self.frames.ndim != 4 or self.frames.shape[-1] != 3:
            raise UvaKitError(
                f"frames must be a uint8 array shaped (N, H, W, 3), got {self.frames.dtype} {self.frames.shape}"
            )
        if self.episode_index.shape != (len(self.frames),):
            raise UvaKitError(f"episode_index must be shaped ({len(self.frames)},), got {self.episode_index.shape}")

    def held_out_split(self, fraction: float) -> tuple[FrameSet, FrameSet]:
        """(train, held out): the last whole episodes holding at least ``fraction`` of the frames
        (or the last frames, when there is a single episode)."""
        if not 0 < fraction < 1:
            raise UvaKitError(f"the held-out fraction must be in (0, 1), got {fraction}")
        count = math.ceil(fraction * len(self.frames))
        episodes = np.unique(self.episode_index)
        if len(episodes) > 1:
            for first_held in episodes[::-1]:
                held = self.episode_index >= first_held
                if held.sum() >= count:
                    break
            if held.all():
                raise UvaKitError("holding out whole episodes would leave no training frames; lower the fraction")
        else:
            held = np.arange(len(self.frames)) >= len(self.frames) - count
        return self._subset(~held), self._subset(held)

    def _subset(self, mask: np.ndarray) -> FrameSet:
        return FrameSet(self.frames[mask], self.episode_index[mask])


def _read_npz(path: Path) -> FrameSet:
    with np.load(path) as data:
        if "frames" not in data:
            raise UvaKitError(f"{path} has no 'frames' array (it has: {', '.join(data.files)})")
        frames = data["frames"]
        episodes = data["episode_index"] if "episode_index" in data else np.zeros(len(frames), dtype=np.int64)
    return FrameSet(frames, episodes)


def _read_npy(path: Path) -> FrameSet:
    frames = np.load(path)
    return FrameSet(frames, np.zeros(len(frames), dtype=np.int64))


FRAME_READERS: dict[str, Callable[[Path], FrameSet]] = {".npz": _read_npz, ".npy": _read_npy}


def read_frames(path: str | Path) -> FrameSet:
    """The frames stored at ``path``, by the reader registered for its suffix."""
    path = Path(path).expanduser()
    if not path.exists():
        raise UvaKitError(f"frames file {path} does not exist")
    key = "dir" if path.is_dir() else path.suffix
    reader = FRAME_READERS.get(key)
    if reader is None:
        raise UvaKitError(
            f"no frame reader for {'directories' if key == 'dir' else repr(key)} ({path}); readable: "
            f"{', '.join(sorted(FRAME_READERS))}. Save the frames as an .npz with a uint8 'frames' array (N, H, W, 3)."
        )
    return reader(path)
