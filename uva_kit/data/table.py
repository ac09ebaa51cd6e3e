"""All episodes of a dataset in memory, checked on construction, whatever format they came from."""

from __future__ import annotations

import attrs
import numpy as np

from uva_kit.data.frames import frames_problem
from uva_kit.errors import DataError


@attrs.frozen
class EpisodeTable:
    """Concatenated per-step arrays of every episode plus ``episode_ends`` (cumulative end indices).

    ``extras`` are further per-step signals (``contact_impulse``, ``environment_state``, ...), ``stats`` the
    normalization statistics per key ({"min", "max", ...}; ``UVADataset`` computes those missing), ``tasks``
    each episode's task (instruction) where the dataset names them, ``source`` the path named in error messages.
    """

    frames: np.ndarray  # (N, H, W, 3) uint8
    actions: np.ndarray  # (N, action_dim) float32; (N, 0) in an action-free (video-only) dataset
    agent_pos: np.ndarray  # (N, 2) float32
    episode_ends: np.ndarray  # (E,) int64
    extras: dict[str, np.ndarray] = attrs.field(factory=dict)
    stats: dict[str, dict[str, np.ndarray]] = attrs.field(factory=dict)
    fps: float = 10.0
    source: str = "<memory>"
    tasks: tuple[str, ...] = ()

    def __attrs_post_init__(self):
        problem = frames_problem(self.frames)
        if problem is not None:
            raise DataError(f"{self.source}: {problem}")
        n = len(self.frames)
        for key, array in {"actions": self.actions, "agent_pos": self.agent_pos, **self.extras}.items():
            if len(array) != n:
                raise DataError(f"{self.source}: '{key}' has {len(array)} steps but there are {n} frames")
            if not np.issubdtype(array.dtype, np.number):
                raise DataError(f"{self.source}: '{key}' must be numeric, got dtype {array.dtype}")
            bad_steps = np.flatnonzero(~np.isfinite(array).reshape(n, -1).all(axis=1)) if n else []
            if len(bad_steps):
                episodes = np.unique(np.searchsorted(self.episode_ends, bad_steps, side="right"))
                raise DataError(f"{self.source}: '{key}' is NaN or infinite at {len(bad_steps)} step(s), "
                                f"first {bad_steps[:5].tolist()}, in episode(s) {episodes[:10].tolist()}; "
                                "fix or drop those episodes")
        if self.actions.ndim != 2 or self.agent_pos.ndim != 2:
            raise DataError(
                f"{self.source}: actions and agent_pos must be (N, D), got {self.actions.shape} and {self.agent_pos.shape}"
            )
        ends = self.episode_ends
        if len(ends) == 0 or np.any(np.diff(ends) <= 0) or ends[0] <= 0 or ends[-1] != n:
            raise DataError(
                f"{self.source}: episode_ends must be strictly increasing positive indices ending at the number "
                f"of steps ({n}), got {ends[:5].tolist()}...{ends[-1:].tolist()}"
            )
        if self.tasks and len(self.tasks) != len(ends):
            raise DataError(f"{self.source}: {len(self.tasks)} tasks for {len(ends)} episodes; give one per episode")

    @property
    def num_episodes(self) -> int:
        return len(self.episode_ends)

    @property
    def has_actions(self) -> bool:
        """False for an action-free (video-only) dataset: zero-width actions."""
        return self.actions.shape[1] > 0

    def low_dim(self) -> dict[str, np.ndarray]:
        """Every per-step numeric array except the frames (and the actions of an action-free dataset), by key."""
        return {**({"actions": self.actions} if self.has_actions else {}), "agent_pos": self.agent_pos, **self.extras}
