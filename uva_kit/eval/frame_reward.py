"""The two-block reward read from an image: find each block by its colour, measure its distance to its target.

Pixels are classified by their nearest colour among the scene's (background, walls, agent, the two blocks,
the two targets); a pixel further than ``MAX_COLOR_DISTANCE`` from every one is ignored. A block's position
is the centroid of its pixels; a block not visible earns 0. The reward is the environment's formula, mean
over blocks of clip(1 - distance / 100 px, 0, 1), with image pixels scaled to the 512-px workspace.
"""

from __future__ import annotations

import numpy as np

from uva_kit.envs.two_block import BLOCK_COLORS, REWARD_DISTANCE, TARGET_COLORS

WORKSPACE = 512.0
MAX_COLOR_DISTANCE = 60.0
MIN_PIXELS = 1


def _rgb(name: str) -> tuple[int, int, int]:
    import pygame

    color = pygame.Color(name)
    return color.r, color.g, color.b


def palette() -> tuple[np.ndarray, list[str]]:
    """(colours (P, 3), names): blocks and targets first, then the scenery."""
    names = [f"block{i}" for i in range(len(BLOCK_COLORS))] + [f"target{i}" for i in range(len(TARGET_COLORS))]
    colors = [_rgb(c) for c in (*BLOCK_COLORS, *TARGET_COLORS)]
    for name, color in (("background", "White"), ("wall", "LightGray"), ("agent", "RoyalBlue")):
        names.append(name)
        colors.append(_rgb(color))
    return np.array(colors, dtype=np.float64), names


def locate(frame: np.ndarray, name: str) -> np.ndarray | None:
    """Centroid (x, y) in workspace units of the pixels of ``name`` ("block0", "target1", ...) in a uint8 frame."""
    colors, names = palette()
    pixels = frame.reshape(-1, 3).astype(np.float64)
    distances = np.linalg.norm(pixels[:, None, :] - colors[None], axis=-1)
    nearest = distances.argmin(axis=1)
    mine = (nearest == names.index(name)) & (distances.min(axis=1) <= MAX_COLOR_DISTANCE)
    if mine.sum() < MIN_PIXELS:
        return None
    rows, cols = np.divmod(np.flatnonzero(mine), frame.shape[1])
    scale = WORKSPACE / np.array([frame.shape[1], frame.shape[0]])
    return (np.array([cols.mean(), rows.mean()]) + 0.5) * scale


def frame_reward(frame: np.ndarray, targets: list[np.ndarray | None]) -> float:
    """The two-block reward of the scene in ``frame`` (H, W, 3) uint8, given the target centres (None: unknown)."""
    rewards = []
    for i, target in enumerate(targets):
        block = locate(frame, f"block{i}")
        if block is None or target is None:
            rewards.append(0.0)
        else:
            rewards.append(float(np.clip(1.0 - np.linalg.norm(block - target) / REWARD_DISTANCE, 0.0, 1.0)))
    return float(np.mean(rewards))
