"""One recorded episode as plain numpy arrays: what collection produces and dataset writers consume."""

from __future__ import annotations

import attrs
import numpy as np

from uva_kit.data.frames import frames_problem
from uva_kit.errors import DataError


def _no_rewards(record: EpisodeRecord) -> np.ndarray:
    return np.zeros(len(record.frames), dtype=np.float32)


@attrs.frozen
class EpisodeRecord:
    """Per-step arrays of one episode, all with the same first dimension T (the number of steps).

    ``frames[t]`` and ``agent_pos[t]`` (the robot's state, any width) are observed *before* ``actions[t]`` is
    executed; ``extras`` hold other per-step signals (e.g. ``contact_impulse`` caused by ``actions[t]``, the full
    simulator ``state``). Rewards default to zeros. Arrays of the wrong layout or length are a DataError.
    ``actions=None`` makes an action-free (video-only) episode: its actions are zero-width, (T, 0), and a
    dataset of such episodes trains only the modes that need no actions (``uva-kit train --video-data``).
    """

    frames: np.ndarray  # (T, H, W, 3) uint8
    agent_pos: np.ndarray  # (T, D) float32
    actions: np.ndarray | None  # (T, action_dim) float32; None: action-free
    rewards: np.ndarray = attrs.field(default=attrs.Factory(_no_rewards, takes_self=True))  # (T,), after actions[t]
    extras: dict[str, np.ndarray] = attrs.field(factory=dict)
    success: bool = False
    seed: int | None = None
    task: str = ""

    def __attrs_post_init__(self):
        problem = frames_problem(self.frames)
        if problem is not None:
            raise DataError(f"episode: {problem}")
        if self.actions is None:
            object.__setattr__(self, "actions", np.zeros((len(self.frames), 0), dtype=np.float32))
        steps = len(self.frames)
        arrays = {"actions": (self.actions, 2), "agent_pos": (self.agent_pos, 2), "rewards": (self.rewards, 1),
                  **{f"extras['{key}']": (value, None) for key, value in self.extras.items()}}
        for name, (array, ndim) in arrays.items():
            if not isinstance(array, np.ndarray) or not np.issubdtype(array.dtype, np.number):
                found = array.dtype if isinstance(array, np.ndarray) else type(array).__name__
                raise DataError(f"episode: {name} must be a numeric numpy array, got {found}")
            if ndim is not None and array.ndim != ndim:
                shape = "(T,)" if ndim == 1 else "(T, D): one row per step (a 1-D signal is values[:, None])"
                raise DataError(f"episode: {name} must be {shape}, got shape {array.shape}")
            if len(array) != steps:
                raise DataError(f"episode: {name} has {len(array)} steps but frames has {steps}; every per-step array "
                                "of an episode has one row per step")

    @property
    def length(self) -> int:
        return len(self.frames)

    @property
    def max_reward(self) -> float:
        """Diffusion Policy's per-episode score: the best reward reached."""
        return float(self.rewards.max()) if len(self.rewards) else 0.0
