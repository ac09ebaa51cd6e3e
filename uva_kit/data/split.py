"""Train/validation split by whole episodes, seeded (as Diffusion Policy: val_ratio 0.02, seed 42)."""

from __future__ import annotations

import numpy as np

from uva_kit.errors import InputError


def split_episodes(num_episodes: int, val_ratio: float, seed: int = 42) -> tuple[np.ndarray, np.ndarray]:
    """(train episode indices, validation episode indices), sorted; at least one of each when possible."""
    if not 0 <= val_ratio < 1:
        raise InputError(f"val_ratio must be in [0, 1), got {val_ratio}")
    num_val = 0 if val_ratio == 0 else min(max(1, round(num_episodes * val_ratio)), num_episodes - 1)
    val = np.sort(np.random.default_rng(seed).choice(num_episodes, size=num_val, replace=False))
    train = np.setdiff1d(np.arange(num_episodes), val)
    return train, val
