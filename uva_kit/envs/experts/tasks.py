"""What the pushing expert needs to know per environment: its blocks, its cost, which block to push next."""

from __future__ import annotations

import numpy as np
from gym_pusht.envs import PushTEnv as GymPushTEnv

from uva_kit.envs.experts.geometry import to_world
from uva_kit.envs.two_block import SUCCESS_DISTANCE, TwoBlockEnv


class PushTTask:
    """Cost: mean distance (px) between the T's 8 outline vertices at its pose and at the goal pose."""

    @staticmethod
    def twin_env():
        return GymPushTEnv(obs_type="state")

    @staticmethod
    def blocks(env) -> list:
        return [env.block]

    @staticmethod
    def cost(env, outlines):
        vertices = np.asarray(outlines[0].exterior.coords)[:-1]
        goal = to_world(vertices, env.goal_pose)
        return lambda poses: float(np.mean(np.linalg.norm(to_world(vertices, poses[0]) - goal, axis=1)))

    @staticmethod
    def next_block(env, rng, current) -> int:
        return 0


class TwoBlockTask:
    """Cost: sum over blocks of the distance (px) from the block centre to its target.

    Pushes one block until it sits within half the success distance, then another that is not in place:
    in a random order when ``diverse``, else in index order.
    """

    @staticmethod
    def twin_env():
        return TwoBlockEnv()

    @staticmethod
    def blocks(env) -> list:
        return env.blocks

    @staticmethod
    def cost(env, outlines):
        targets = env.targets.copy()
        return lambda poses: float(np.sum(np.linalg.norm(poses[:, :2] - targets, axis=1)))

    @staticmethod
    def next_block(env, rng, current) -> int:
        distances = env.block_distances()
        if current is not None and distances[current] >= SUCCESS_DISTANCE / 2:
            return current
        unplaced = np.flatnonzero(distances >= SUCCESS_DISTANCE / 2)
        if len(unplaced) == 0:
            return int(np.argmax(distances))
        return int(unplaced[0] if rng is None else rng.choice(unplaced))


TASKS = {"pusht": PushTTask, "pusht-m": PushTTask, "two-block": TwoBlockTask}
