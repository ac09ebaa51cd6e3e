"""An exact forward model for the experts: a twin pymunk space that replays candidate actions.

PushT-style spaces have zero damping, so blocks move only while pushed (quasi-static dynamics); pymunk is
deterministic. Copying the agent and block poses into a twin space and replaying actions with the env's own
PD loop therefore predicts the real outcome to within a fraction of a pixel.
"""

from __future__ import annotations

import attrs
import numpy as np

from uva_kit.envs.physics import drive_agent


@attrs.frozen
class SceneState:
    """Agent position and velocity, and each block's pose (x, y, angle of the body origin) and velocity."""

    agent_position: np.ndarray
    agent_velocity: np.ndarray
    block_poses: np.ndarray  # (num_blocks, 3)
    block_velocities: np.ndarray  # (num_blocks, 3): vx, vy, angular

    @classmethod
    def read(cls, agent, blocks) -> SceneState:
        return cls(
            agent_position=np.array(agent.position),
            agent_velocity=np.array(agent.velocity),
            block_poses=np.array([[*b.position, b.angle] for b in blocks]),
            block_velocities=np.array([[*b.velocity, b.angular_velocity] for b in blocks]),
        )


class TwinSimulator:
    """Replays action sequences from a given :class:`SceneState` in a private copy of an env's space.

    ``env_factory`` builds an env whose ``_setup()`` creates ``space``, ``agent`` and the blocks;
    ``blocks_of(env)`` lists the block bodies.
    """

    def __init__(self, env_factory, blocks_of):
        self.env = env_factory()
        self.env._setup()
        for shape in self.env.space.shapes:  # no collision callbacks in the twin: they only cost time
            shape.collision_type = 1
        self.agent = self.env.agent
        self.blocks = blocks_of(self.env)

    def rollout(self, state: SceneState, actions, at_rest: bool = False) -> np.ndarray:
        """Block poses (num_blocks, 3) after executing ``actions`` from ``state``.

        ``at_rest=True`` starts the agent with zero velocity (used to screen pushes from their pre-contact point).
        """
        self.agent.position = tuple(state.agent_position)
        self.agent.velocity = (0.0, 0.0) if at_rest else tuple(state.agent_velocity)
        for body, pose, velocity in zip(self.blocks, state.block_poses, state.block_velocities):
            body.angle = pose[2]  # angle first, then position: the pose is reproduced exactly
            body.position = tuple(pose[:2])
            body.velocity = tuple(velocity[:2])
            body.angular_velocity = velocity[2]
        for action in actions:
            drive_agent(self.env.space, self.agent, action)
        return np.array([[*b.position, b.angle] for b in self.blocks])
