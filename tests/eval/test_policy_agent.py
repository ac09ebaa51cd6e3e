"""PolicyAgent: each episode draws its noise from its own generator, so results do not depend on the batching."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("gym_pusht")

from uva_kit.eval.agents import PolicyAgent  # noqa: E402
from uva_kit.eval.rollout import run_episodes  # noqa: E402

SEEDS = [100000, 100001, 100002]


class RecordingAgent(PolicyAgent):
    """A PolicyAgent that keeps the actions of every episode it runs."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.batches: list[tuple[list[int], list[np.ndarray]]] = []

    def reset(self, seeds):
        super().reset(seeds)
        self.batches.append((list(seeds), []))

    def act(self, obs):
        action = super().act(obs)
        self.batches[-1][1].append(action)
        return action

    def episode_actions(self) -> dict[int, np.ndarray]:
        return {seed: np.stack(actions)[:, i] for seeds, actions in self.batches for i, seed in enumerate(seeds)}


def episodes(model, seeds, batch_envs: int, agent_seed: int = 0):
    agent = RecordingAgent(model, n_action_steps=4, seed=agent_seed)
    results, _ = run_episodes("pusht", agent, seeds, batch_envs=batch_envs, max_steps=20, progress=False)
    return results, agent.episode_actions()


def test_policy_results_do_not_depend_on_batching(tiny_model):
    """Equal to the bit. The untrained pusht-tiny acts on its noise only (its AdaLN layers start at zero);
    tests/model/test_policy_generators.py checks with random weights that the frames' rows stay apart too."""
    together, together_actions = episodes(tiny_model, SEEDS, batch_envs=3)
    apart, apart_actions = episodes(tiny_model, SEEDS, batch_envs=1)
    assert together == apart
    for seed in SEEDS:
        np.testing.assert_array_equal(together_actions[seed], apart_actions[seed])


def test_an_episodes_actions_do_not_depend_on_the_other_episodes_but_on_the_agents_seed(tiny_model):
    _, first = episodes(tiny_model, [100000, 100001], batch_envs=2)
    _, second = episodes(tiny_model, [100005, 100001], batch_envs=2)
    _, reseeded = episodes(tiny_model, [100001], batch_envs=1, agent_seed=1)
    np.testing.assert_array_equal(first[100001], second[100001])
    assert not np.array_equal(first[100001], reseeded[100001])
