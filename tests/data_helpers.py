"""Synthetic episodes for data tests: every frame's pixels and every low-dim value encode its step number."""

from __future__ import annotations

import numpy as np

from uva_kit.data.episode import EpisodeRecord


def synthetic_episode(length: int, offset: int = 0, size: int = 32) -> EpisodeRecord:
    steps = np.arange(offset, offset + length)
    frames = np.broadcast_to((steps * 4 % 256).astype(np.uint8)[:, None, None, None], (length, size, size, 3)).copy()
    return EpisodeRecord(
        frames=frames,
        agent_pos=np.stack([steps, steps + 0.5], axis=1).astype(np.float32),
        actions=np.stack([steps * 2.0, steps * 3.0], axis=1).astype(np.float32),
        rewards=np.linspace(0, 1, length, dtype=np.float32),
        extras={"contact_impulse": np.stack([steps, -steps], axis=1).astype(np.float32)},
        success=True,
        seed=offset,
        task="synthetic",
    )
