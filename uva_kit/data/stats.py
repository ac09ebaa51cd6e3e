"""Normalization statistics (LeRobot's min/max/mean/std/count per feature), computed once per dataset."""

from __future__ import annotations

import numpy as np


def array_stats(values: np.ndarray) -> dict[str, np.ndarray]:
    """Per-dimension min, max, mean, std and count of an (N, ...) array, as float64 (count as int64)."""
    values = np.asarray(values, dtype=np.float64)
    return {
        "min": values.min(axis=0),
        "max": values.max(axis=0),
        "mean": values.mean(axis=0),
        "std": values.std(axis=0),
        "count": np.array([len(values)], dtype=np.int64),
    }


def image_stats(frames: np.ndarray, max_frames: int = 2000) -> dict[str, np.ndarray]:
    """Per-channel stats of uint8 (N, H, W, 3) frames scaled to [0, 1], shaped (3, 1, 1) as LeRobot stores them."""
    step = max(1, len(frames) // max_frames)
    pixels = frames[::step].reshape(-1, 3).astype(np.float64) / 255.0
    stats = array_stats(pixels)
    return {k: (v if k == "count" else v.reshape(3, 1, 1)) for k, v in stats.items()} | {
        "count": np.array([len(frames)], dtype=np.int64)
    }


def stats_to_json(stats: dict[str, dict[str, np.ndarray]]) -> dict:
    return {key: {name: np.asarray(v).tolist() for name, v in entry.items()} for key, entry in stats.items()}
