"""The frame layout of every dataset in memory, uint8 (N, H, W, 3) RGB, and how to fix frames that differ."""

from __future__ import annotations

import numpy as np


def frames_problem(frames: np.ndarray) -> str | None:
    """What keeps ``frames`` from being uint8 (N, H, W, 3) RGB, with the fix; None when nothing does."""
    if not isinstance(frames, np.ndarray):
        return f"frames must be a numpy array, uint8 (N, H, W, 3), got a {type(frames).__name__}"
    got = f"got {frames.dtype} {frames.shape}"
    if frames.ndim == 4 and frames.shape[1] == 3 and frames.shape[-1] != 3:
        return f"frames must be channels last, (N, H, W, 3), {got}: use frames.transpose(0, 2, 3, 1)"
    if frames.ndim == 3:
        return f"frames must be RGB, (N, H, W, 3), {got}: repeat a grey channel with np.repeat(frames[..., None], 3, -1)"
    if frames.ndim != 4 or frames.shape[-1] != 3:
        return f"frames must be (N, H, W, 3) RGB, {got}"
    if np.issubdtype(frames.dtype, np.floating):
        return (f"frames must be uint8 pixels 0..255, {got}: floats in [0, 1] convert with "
                "(frames * 255).round().astype(np.uint8)")
    if frames.dtype != np.uint8:
        return f"frames must be uint8 pixels 0..255, {got}: convert with frames.astype(np.uint8)"
    return None
