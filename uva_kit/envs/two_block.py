"""Two square blocks, two targets: the forward-dynamics planning task, with PushT's physics and look."""

from __future__ import annotations

import cv2
import gymnasium as gym
import numpy as np
import pygame
import pymunk
from gym_pusht.envs.pymunk_override import DrawOptions
from gymnasium import spaces

from uva_kit.envs.contact import ContactImpulseMeter
from uva_kit.envs.physics import AGENT_RADIUS, SUBSTEP_SECONDS, WORKSPACE, drive_agent

BLOCK_SIDE = 50.0
BLOCK_COLORS = ("Firebrick", "DarkGoldenrod")
TARGET_COLORS = ("Pink", "PaleGoldenrod")
SUCCESS_DISTANCE = 10.0  # px between a block's centre and its target's centre
REWARD_DISTANCE = 100.0  # a block this far (or farther) from its target earns nothing
SPAWN_RANGE = (100.0, 412.0)
MIN_SEPARATION = 80.0  # between the two blocks, and between the two targets, at reset


class TwoBlockEnv(gym.Env):
    """Push block 0 onto target 0 and block 1 onto target 1 (targets are drawn in a lighter shade).

    Observation: ``pixels`` (96x96x3 uint8) and ``agent_pos`` (2,), as PushT. Action: absolute agent target
    in the 512x512 workspace. Reward = mean over blocks of clip(1 - distance / 100, 0, 1); success (and
    termination) when both blocks are within 10 px of their targets. ``reset`` options: ``targets``
    ((2, 2) centres) and ``reset_to_state`` ([agent x, y, block0 x, y, angle, block1 x, y, angle]).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(self, observation_size: int = 96, visualization_size: int = 680):
        super().__init__()
        self.render_mode = "rgb_array"
        self.observation_size = observation_size
        self.visualization_size = visualization_size
        self.observation_space = spaces.Dict(
            {
                "pixels": spaces.Box(0, 255, (observation_size, observation_size, 3), np.uint8),
                "agent_pos": spaces.Box(0, WORKSPACE, (2,), np.float64),
            }
        )
        self.action_space = spaces.Box(0, WORKSPACE, (2,), np.float32)
        self.targets = np.zeros((2, 2))

    def _setup(self) -> None:
        """Build the pymunk space: walls, the agent disc and the two blocks (also used by the experts' twin)."""
        self.space = pymunk.Space()
        self.space.gravity = 0, 0
        self.space.damping = 0.0  # quasi-static, as PushT: blocks stop as soon as nothing pushes them
        corners = [(5, 506), (5, 5), (506, 5), (506, 506)]
        for a, b in zip(corners, corners[1:] + corners[:1]):
            wall = pymunk.Segment(self.space.static_body, a, b, 2)
            wall.color = pygame.Color("LightGray")
            self.space.add(wall)
        self.agent = pymunk.Body(body_type=pymunk.Body.KINEMATIC)
        self.agent.position = (256, 400)
        agent_shape = pymunk.Circle(self.agent, AGENT_RADIUS)
        agent_shape.color = pygame.Color("RoyalBlue")
        self.space.add(self.agent, agent_shape)
        self.blocks = []
        for color in BLOCK_COLORS:
            body = pymunk.Body(1, pymunk.moment_for_box(1, (BLOCK_SIDE, BLOCK_SIDE)))
            shape = pymunk.Poly.create_box(body, (BLOCK_SIDE, BLOCK_SIDE))
            shape.color = pygame.Color(color)
            shape.friction = 1
            self.space.add(body, shape)
            self.blocks.append(body)
        self.contact_meter = ContactImpulseMeter(self.agent, self.blocks)
        self.space.add_collision_handler(0, 0).post_solve = lambda arbiter, space, data: self.contact_meter.record(arbiter)

    def _random_points(self, low: float, high: float, count: int, min_separation: float) -> np.ndarray:
        while True:
            points = self.np_random.uniform(low, high, size=(count, 2))
            if count < 2 or np.linalg.norm(points[0] - points[1]) >= min_separation:
                return points

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        options = options or {}
        self._setup()
        targets = options.get("targets")
        self.targets = np.asarray(targets, dtype=np.float64) if targets is not None else self._random_points(*SPAWN_RANGE, 2, MIN_SEPARATION)
        state = options.get("reset_to_state")
        if state is None:
            blocks = self._random_points(*SPAWN_RANGE, 2, MIN_SEPARATION)
            while True:  # the agent starts clear of both blocks
                agent = self.np_random.integers(50, 450, size=2).astype(np.float64)
                if np.min(np.linalg.norm(blocks - agent, axis=1)) > BLOCK_SIDE + AGENT_RADIUS:
                    break
            angles = self.np_random.uniform(-np.pi, np.pi, size=2)
            state = [*agent, *blocks[0], angles[0], *blocks[1], angles[1]]
        self._set_state(np.asarray(state, dtype=np.float64))
        self.contact_meter.take()
        info = self._info()
        info["contact_impulse"] = np.zeros(2, dtype=np.float32)
        return self._observation(), info

    def _set_state(self, state: np.ndarray) -> None:
        self.agent.position = tuple(state[:2])
        for body, (x, y, angle) in zip(self.blocks, state[2:].reshape(2, 3)):
            body.angle = angle
            body.position = (x, y)
        self.space.step(SUBSTEP_SECONDS)

    def step(self, action):
        drive_agent(self.space, self.agent, action)
        self._last_action = np.asarray(action)
        info = self._info()
        info["contact_impulse"] = self.contact_meter.take()
        reward = float(np.mean(np.clip(1 - info["block_distances"] / REWARD_DISTANCE, 0, 1)))
        return self._observation(), reward, bool(info["is_success"]), False, info

    def block_distances(self) -> np.ndarray:
        return np.array([np.linalg.norm(np.asarray(b.position) - t) for b, t in zip(self.blocks, self.targets)])

    def state_vector(self) -> np.ndarray:
        """[agent x, y, block0 x, y, angle, block1 x, y, angle]."""
        blocks = [[*b.position, b.angle % (2 * np.pi)] for b in self.blocks]
        return np.array([*self.agent.position, *blocks[0], *blocks[1]])

    def _info(self) -> dict:
        distances = self.block_distances()
        return {
            "pos_agent": np.array(self.agent.position),
            "block_poses": self.state_vector()[2:].reshape(2, 3),
            "targets": self.targets.copy(),
            "block_distances": distances,
            "is_success": bool(np.all(distances < SUCCESS_DISTANCE)),
        }

    def _observation(self) -> dict:
        return {"pixels": self._render(self.observation_size), "agent_pos": np.array(self.agent.position)}

    def _render(self, size: int) -> np.ndarray:
        screen = pygame.Surface((WORKSPACE, WORKSPACE))
        screen.fill((255, 255, 255))
        half = BLOCK_SIDE / 2
        for target, color in zip(self.targets, TARGET_COLORS):
            corners = [target + (dx, dy) for dx, dy in ((-half, -half), (half, -half), (half, half), (-half, half))]
            pygame.draw.polygon(screen, pygame.Color(color), corners)
        self.space.debug_draw(DrawOptions(screen))
        image = np.transpose(np.array(pygame.surfarray.pixels3d(screen)), axes=(1, 0, 2))
        return cv2.resize(image, (size, size))

    def render(self):
        return self._render(self.visualization_size)
