"""Vectorized rollouts: seeds, step limits, recorded frames and the baseline agents."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("gym_pusht")

import uva_kit.envs as envs  # noqa: E402
from uva_kit.eval.agents import StillAgent, baseline  # noqa: E402
from uva_kit.eval.rollout import _run_batch, run_episodes  # noqa: E402


def test_random_agent_results_do_not_depend_on_batching():
    seeds = [100000, 100001, 100002]
    together, _ = run_episodes("pusht", baseline("random"), seeds, batch_envs=3, max_steps=15, progress=False)
    apart, _ = run_episodes("pusht", baseline("random"), seeds, batch_envs=1, max_steps=15, progress=False)
    assert together == apart
    assert [r.seed for r in together] == seeds and all(r.steps == 15 for r in together)


class ScriptedVector:
    """Two envs: env 0 succeeds at its 2nd step, env 1 runs 4 steps. Steps after an env is done (a vector
    env's auto-reset) return reward 9, which no episode may count."""

    def reset(self, seed):
        return {"pixels": np.zeros((2, 1, 1, 3))}, {}

    def step(self, actions):
        self.t = getattr(self, "t", 0) + 1
        rewards = np.array([9.0 if self.t > 2 else 0.5 * self.t, 9.0 if self.t > 4 else 0.1 * self.t])
        terminated = np.array([self.t == 2, False])
        return {"pixels": np.zeros((2, 1, 1, 3))}, rewards, terminated, np.array([False, self.t == 4]), {
            "is_success": terminated}


class ZeroAgent:
    def reset(self, seeds):
        pass

    def act(self, obs):
        return np.zeros((2, 2))


class NoBar:
    def update(self, n=1):
        pass


def test_an_episode_ends_at_its_own_termination_in_a_batch():
    early, late = _run_batch(ScriptedVector(), ZeroAgent(), [7, 8], set(), {}, NoBar(), NoBar())
    assert (early.steps, early.score, early.success) == (2, 1.0, True)
    assert (late.steps, late.score, late.final_reward) == (4, pytest.approx(0.4), pytest.approx(0.4))


def test_recorded_frames_start_at_the_legacy_reset_and_follow_every_step():
    results, recordings = run_episodes("pusht", StillAgent(), [100000, 100001], batch_envs=2, max_steps=6, record=1,
                                       progress=False)
    assert set(recordings) == {100000}
    recording = recordings[100000]
    assert recording.frames.shape == (results[0].steps + 1, 96, 96, 3) and len(recording.rewards) == results[0].steps
    assert max(recording.rewards) == results[0].score
    reference, _ = envs.make("pusht", legacy_seeding=True).reset(seed=100000)
    np.testing.assert_array_equal(recording.frames[0], reference["pixels"])


def test_still_agent_commands_its_own_position():
    obs = {"agent_pos": np.array([[10.0, 20.0], [30.0, 40.0]])}
    np.testing.assert_array_equal(StillAgent().act(obs), obs["agent_pos"])


def test_still_agent_scores_the_start_state_reward():
    # staying put never moves the T, so the best reward is the reward of the first step
    results, _ = run_episodes("pusht", StillAgent(), [100004], batch_envs=1, max_steps=5, progress=False)
    assert results[0].score == pytest.approx(results[0].final_reward)


def test_progress_moves_with_every_step_of_a_batch(monkeypatch):
    """Besides the finished episodes, a second bar counts the steps of the running batch, from 0 for each batch."""
    import uva_kit.eval.rollout as rollout

    bars = []

    class RecordingBar:
        def __init__(self, total, unit, **options):
            self.unit, self.counts, self.n = unit, [], 0
            bars.append(self)

        def update(self, n=1):
            self.n += n
            self.counts.append(self.n)

        def reset(self):
            self.n = 0

        def set_postfix(self, postfix):
            pass

        def close(self):
            pass

    monkeypatch.setattr(rollout, "tqdm", RecordingBar)
    run_episodes("pusht", StillAgent(), [100000, 100001, 100002], batch_envs=2, max_steps=4)
    episodes, steps = bars
    assert episodes.unit == "episode" and episodes.n == 3
    assert steps.unit == "step" and steps.counts == [1, 2, 3, 4, 1, 2, 3, 4]
