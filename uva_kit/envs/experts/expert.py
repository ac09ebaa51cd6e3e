"""The scripted pushing expert: plan a push, execute it, replan, until success or the step limit."""

from __future__ import annotations

import numpy as np

from uva_kit.data.episode import EpisodeRecord
from uva_kit.envs import make
from uva_kit.envs.experts.geometry import body_outline
from uva_kit.envs.experts.planner import PushPlanner, PushSettings
from uva_kit.envs.experts.simulator import SceneState, TwinSimulator
from uva_kit.envs.experts.tasks import TASKS
from uva_kit.errors import UvaKitError, choices_hint

STALL_TOLERANCE = 0.05  # px: a plan that improves the cost by less than this counts as a stall
MAX_STALLS = 4

TASK_DESCRIPTIONS = {
    "pusht": "Push the T-shaped block onto the green target.",
    "pusht-m": "Push the T-shaped block onto the green target.",
    "two-block": "Push each block onto the target of its colour.",
}


class PushExpert:
    """Closed-loop expert for ``env_name`` (pusht, pusht-m, two-block); needs the env's privileged state.

    ``diverse=True`` (default) picks at random among near-best pushes, which gives varied, multimodal
    demonstrations; ``diverse=False`` always takes the best predicted push.
    """

    def __init__(self, env_name: str, diverse: bool = True, settings: PushSettings | None = None):
        if env_name not in TASKS:
            raise UvaKitError(f"no expert for environment '{env_name}'.{choices_hint(env_name, TASKS)}")
        self.env_name = env_name
        self.task = TASKS[env_name]
        self.diverse = diverse
        self.settings = settings or PushSettings()
        self.simulator = TwinSimulator(self.task.twin_env, self.task.blocks)
        self.outlines = [body_outline(body) for body in self.simulator.blocks]

    def record_episode(self, seed: int, max_steps: int = 300, legacy_seeding: bool = False) -> EpisodeRecord:
        """Run one episode from ``seed`` (gymnasium seeding, or the original start states) and record it."""
        options = {"legacy_seeding": True} if legacy_seeding else {}
        env = make(self.env_name, max_episode_steps=max_steps, **options)
        raw = env.unwrapped
        observation, info = env.reset(seed=seed)
        rng = np.random.default_rng(seed) if self.diverse else None
        cost = self.task.cost(raw, self.outlines)
        planner = PushPlanner(
            self.simulator, self.outlines, cost, self.settings, rng or np.random.default_rng(0), self.diverse
        )
        steps: dict[str, list] = {k: [] for k in ("frames", "agent_pos", "actions", "rewards", "environment_state", "contact_impulse")}
        done, stalls, block = False, 0, None
        while not done and stalls < MAX_STALLS:
            state = SceneState.read(raw.agent, self.task.blocks(raw))
            block = self.task.next_block(raw, rng, block)
            plan = planner.plan(state, block)
            if plan is None:
                break
            for action in plan.actions:
                action = np.asarray(action, dtype=np.float32)
                steps["frames"].append(observation["pixels"])
                steps["agent_pos"].append(observation["agent_pos"])
                steps["environment_state"].append(raw.state_vector())
                observation, reward, terminated, truncated, info = env.step(action)
                steps["actions"].append(action)
                steps["rewards"].append(reward)
                steps["contact_impulse"].append(info["contact_impulse"])
                if terminated or truncated:
                    done = True
                    break
            improvement = cost(state.block_poses) - cost(SceneState.read(raw.agent, self.task.blocks(raw)).block_poses)
            stalls = stalls + 1 if improvement < STALL_TOLERANCE else 0
        env.close()
        extras = {
            "environment_state": np.asarray(steps["environment_state"], dtype=np.float32).reshape(-1, len(raw.state_vector())),
            "contact_impulse": np.asarray(steps["contact_impulse"], dtype=np.float32).reshape(-1, 2),
        }
        return EpisodeRecord(
            frames=np.asarray(steps["frames"], dtype=np.uint8),
            agent_pos=np.asarray(steps["agent_pos"], dtype=np.float32).reshape(-1, 2),
            actions=np.asarray(steps["actions"], dtype=np.float32).reshape(-1, 2),
            rewards=np.asarray(steps["rewards"], dtype=np.float32),
            extras=extras,
            success=bool(info.get("is_success", False)),
            seed=seed,
            task=TASK_DESCRIPTIONS[self.env_name],
        )
