"""One recorded episode as plain numpy arrays: what collection produces and dataset writers consume."""

from __future__ import annotations

import attrs
import numpy as np


@attrs.frozen
class EpisodeRecord:
    """Per-step arrays of one episode, all with the same first dimension T (the number of steps).

    ``frames[t]`` and ``agent_pos[t]`` are observed *before* ``actions[t]`` is executed; ``extras`` hold other
    per-step signals (e.g. ``contact_impulse`` caused by ``actions[t]``, the full simulator ``state``).
    """

    frames: np.ndarray  # (T, H, W, 3) uint8
    agent_pos: np.ndarray  # (T, 2) float32
    actions: np.ndarray  # (T, action_dim) float32
    rewards: np.ndarray  # (T,) float32, reward after actions[t]
    extras: dict[str, np.ndarray] = attrs.field(factory=dict)
    success: bool = False
    seed: int | None = None
    task: str = ""

    @property
    def length(self) -> int:
        return len(self.actions)

    @property
    def max_reward(self) -> float:
        """Diffusion Policy's per-episode score: the best reward reached."""
        return float(self.rewards.max()) if len(self.rewards) else 0.0
