"""Environments of "your own" for the tests of ``--env MODULE:CALLABLE`` (tests/eval/test_own_env.py).

``dot_env``: a dot driven to absolute (x, y) targets in a 512 x 512 workspace, drawn at 24 x 24 pixels;
reward = closeness to a goal at the centre, success within 10 units. The others each break one rule.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

SIZE = 24
GOAL = np.array([256.0, 256.0])


class DotEnv(gym.Env):
    def __init__(self, channels_first: bool = False, declare_agent_pos: bool = True):
        self.channels_first = channels_first
        pixels = spaces.Box(0, 255, (3, SIZE, SIZE) if channels_first else (SIZE, SIZE, 3), np.uint8)
        agent_pos = {"agent_pos": spaces.Box(0, 512, (2,), np.float64)} if declare_agent_pos else {}
        self.observation_space = spaces.Dict({"pixels": pixels, **agent_pos})
        self.action_space = spaces.Box(0, 512, (2,), np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.agent = self.np_random.uniform(0, 512, 2)
        return self._observation(), {}

    def step(self, action):
        self.agent = self.agent + np.clip(np.asarray(action, dtype=np.float64) - self.agent, -20, 20)
        distance = float(np.linalg.norm(self.agent - GOAL))
        success = distance < 10
        return self._observation(), max(0.0, 1 - distance / 512), success, False, {"is_success": success}

    def _observation(self) -> dict:
        pixels = np.zeros((SIZE, SIZE, 3), np.uint8)
        x, y = (self.agent / 512 * (SIZE - 1)).astype(int)
        pixels[y, x] = 255
        return {"pixels": pixels.transpose(2, 0, 1) if self.channels_first else pixels, "agent_pos": self.agent.copy()}


def dot_env() -> DotEnv:
    return DotEnv()


def channels_first_env() -> DotEnv:
    return DotEnv(channels_first=True)


def undeclared_agent_pos_env() -> DotEnv:
    return DotEnv(declare_agent_pos=False)


class PixelsOnlyEnv(DotEnv):
    """Observations are the pixel array itself, not a dict."""

    def _observation(self):
        return super()._observation()["pixels"]


def sized_env(size: int) -> DotEnv:  # an option without a default: nothing passes it
    return DotEnv()


def joint_space_env() -> DotEnv:  # actions of another width than the model's (2,)
    env = DotEnv()
    env.action_space = spaces.Box(-1, 1, (7,), np.float32)
    return env


def not_an_env() -> dict:
    return {}
