"""PushT and PushT-M on gym-pusht: pixels + agent_pos + pusht_state, contact impulse, legacy seeding, random goals."""

from __future__ import annotations

import numpy as np
import pygame
import pymunk.pygame_util
from gym_pusht.envs import PushTEnv as GymPushTEnv
from gym_pusht.envs.pymunk_override import DrawOptions
from gymnasium import spaces

from uva_kit.envs.contact import ContactImpulseMeter
from uva_kit.envs.pusht_state import pusht_state
from uva_kit.errors import UvaKitError, choices_hint

FIXED_GOAL = (256.0, 256.0, np.pi / 4)
RANDOM_GOAL_XY_RANGE = (156.0, 356.0)  # PushT-M, as UVA's fix_goal=False

# Visual disturbances of the paper's Table III (images only; physics, reward and success are unchanged).
VISUAL_VARIANTS = ("normal", "bg-color", "bg-object", "goal-color")
DISTURBED_BACKGROUND = "LightSkyBlue"  # "bg-color": instead of white
DISTURBED_GOAL = "Plum"  # "goal-color": instead of LightGreen
DISTRACTOR_COLORS = ("Orange", "MediumPurple", "Turquoise")  # "bg-object": one flat disc or square each
DISTRACTOR_SIZE_RANGE = (20.0, 40.0)  # px, radius or half side


def legacy_initial_state(seed: int) -> np.ndarray:
    """The start state Diffusion Policy / UVA draw for ``seed`` (np.random.RandomState, not gymnasium's RNG).

    Returns [agent_x, agent_y, block_x, block_y, block_angle], to pass as ``options={"reset_to_state": ...}``.
    """
    rs = np.random.RandomState(seed=seed)
    return np.array(
        [
            rs.randint(50, 450),
            rs.randint(50, 450),
            rs.randint(100, 400),
            rs.randint(100, 400),
            rs.randn() * 2 * np.pi - np.pi,
        ],
        dtype=np.float64,
    )


class PushTEnv(GymPushTEnv):
    """gym-pusht's PushT with 96x96 ``pixels`` + ``agent_pos`` observations and these additions.

    * observations also carry ``pusht_state`` (6,): agent position and T pose, the angle as (cos, sin)
      (see :mod:`uva_kit.envs.pusht_state`; datasets compute it from their ``environment_state``).
    * ``random_goal=True`` (PushT-M): the goal pose is drawn at reset from the env's seeded RNG,
      x, y ~ U(156, 356), angle ~ U(0, 2 pi); it shows in the image and drives the success check.
    * ``legacy_seeding=True``: ``reset(seed=s)`` starts from :func:`legacy_initial_state` (s), the start
      states of the original evaluation (test seeds 100000-100049). Resets without a seed use gymnasium's RNG.
    * ``info["contact_impulse"]``: the impulse the agent applied to the block during the step (2,), float32.
    * ``reset(options={"restore_state": state})`` puts the agent and the T exactly at a recorded
      :meth:`state_vector` (a dataset's ``environment_state``). gym-pusht's ``reset_to_state`` sets the T's
      position before its angle, and the angle turns the T about its centre of mass, so a recorded pose
      comes back moved (by up to tens of pixels); that order is kept because the original test start states
      (:func:`legacy_initial_state`) are defined by it.
    * ``visual``: a visual disturbance of the paper's Table III, seen in the images only: "bg-color" (light
      blue background), "bg-object" (three flat distractor shapes at random places, drawn under everything
      else, redrawn at each reset from the env's RNG after the start state), "goal-color" (plum goal T).
    """

    def __init__(self, random_goal: bool = False, legacy_seeding: bool = False, observation_size: int = 96,
                 visual: str = "normal"):
        if visual not in VISUAL_VARIANTS:
            raise UvaKitError(f"unknown visual variant '{visual}'.{choices_hint(visual, VISUAL_VARIANTS)}")
        super().__init__(
            obs_type="pixels_agent_pos",
            render_mode="rgb_array",
            observation_width=observation_size,
            observation_height=observation_size,
        )
        self.observation_space = spaces.Dict(
            {**self.observation_space.spaces, "pusht_state": spaces.Box(-np.inf, np.inf, shape=(6,), dtype=np.float32)}
        )
        self.random_goal = random_goal
        self.legacy_seeding = legacy_seeding
        self.visual = visual
        self.distractors: list[tuple[str, str, np.ndarray, float]] = []  # (shape, colour, centre, size)
        self._angle_first = False  # set for one reset by "restore_state"

    def _setup(self):
        super()._setup()
        self.contact_meter = ContactImpulseMeter(self.agent, [self.block])
        if self.random_goal:
            low, high = RANDOM_GOAL_XY_RANGE
            self.goal_pose = np.array(
                [self.np_random.uniform(low, high), self.np_random.uniform(low, high), self.np_random.uniform(0, 2 * np.pi)]
            )

    def _handle_collision(self, arbiter, space, data):
        super()._handle_collision(arbiter, space, data)
        self.contact_meter.record(arbiter)

    def reset(self, seed=None, options=None):
        restore = None if options is None else options.get("restore_state")
        if restore is not None:
            if options.get("reset_to_state") is not None:
                raise UvaKitError("reset options: give 'restore_state' (a recorded state_vector, restored exactly) or "
                                  "'reset_to_state' (gym-pusht's legacy order), not both")
            options = {**options, "reset_to_state": np.asarray(restore, dtype=np.float64)}
        self._angle_first = restore is not None
        wants_state = options is not None and options.get("reset_to_state") is not None
        if self.legacy_seeding and seed is not None and not wants_state:
            options = {**(options or {}), "reset_to_state": legacy_initial_state(seed)}
        observation, info = super().reset(seed=seed, options=options)
        if self.visual == "bg-object":  # drawn after the start state, so every variant starts alike
            self.distractors = [
                (str(self.np_random.choice(["disc", "square"])), color, self.np_random.uniform(40, 472, size=2),
                 float(self.np_random.uniform(*DISTRACTOR_SIZE_RANGE)))
                for color in DISTRACTOR_COLORS
            ]
            observation = self.get_obs()
        self.contact_meter.take()  # the settling substep of the reset is not an action's effect
        info["contact_impulse"] = np.zeros(2, dtype=np.float32)
        return observation, info

    def _set_state(self, state):
        if self._angle_first:  # gym-pusht then sets the position at this angle and the same angle again: no turn
            self.block.angle = state[4]
        super()._set_state(state)

    def step(self, action):
        observation, reward, terminated, truncated, info = super().step(action)
        info["contact_impulse"] = self.contact_meter.take()
        return observation, reward, terminated, truncated, info

    def _draw(self):
        if self.visual == "normal":
            return super()._draw()
        screen = pygame.Surface((512, 512))
        screen.fill(pygame.Color(DISTURBED_BACKGROUND if self.visual == "bg-color" else "White"))
        for shape, color, (x, y), size in self.distractors:
            if shape == "disc":
                pygame.draw.circle(screen, pygame.Color(color), (x, y), size)
            else:
                pygame.draw.rect(screen, pygame.Color(color), pygame.Rect(x - size, y - size, 2 * size, 2 * size))
        draw_options = DrawOptions(screen)
        goal_body = self.get_goal_pose_body(self.goal_pose)
        goal_color = pygame.Color(DISTURBED_GOAL if self.visual == "goal-color" else "LightGreen")
        for shape in self.block.shapes:
            points = [pymunk.pygame_util.to_pygame(goal_body.local_to_world(v), screen) for v in shape.get_vertices()]
            pygame.draw.polygon(screen, goal_color, points + [points[0]])
        self.space.debug_draw(draw_options)
        return screen

    def get_obs(self):
        return {**super().get_obs(), "pusht_state": pusht_state(self.state_vector())}

    def state_vector(self) -> np.ndarray:
        """[agent_x, agent_y, block_x, block_y, block_angle], as Diffusion Policy's replay buffers store it."""
        return np.array([*self.agent.position, *self.block.position, self.block.angle % (2 * np.pi)])
