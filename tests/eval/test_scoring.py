"""The paper's score (mean of each episode's best reward) and the success rate, on hand-computed episodes."""

from __future__ import annotations

import pytest

from uva_kit.eval.scoring import episode_result, summarize


def test_episode_keeps_its_best_reward_not_its_last():
    result = episode_result(7, rewards=[0.1, 0.9, 0.4], successes=[False, False, False])
    assert (result.seed, result.score, result.final_reward, result.steps, result.success) == (7, 0.9, 0.4, 3, False)


def test_success_is_any_step_reporting_success():
    assert episode_result(0, [0.2, 1.0], [False, True]).success


def test_summary_of_hand_computed_episodes():
    episodes = [
        episode_result(0, [0.2, 0.5, 0.3], [False] * 3),  # best 0.5
        episode_result(1, [0.4, 1.0], [False, True]),  # best 1.0, success
        episode_result(2, [0.0] * 5, [False] * 5),  # best 0.0
        episode_result(3, [0.6], [False]),  # best 0.6
    ]
    summary = summarize(episodes)
    assert summary["score"] == pytest.approx((0.5 + 1.0 + 0.0 + 0.6) / 4)
    assert summary["score_sem"] == pytest.approx(0.41130 / 2, abs=1e-5)  # sample std (n - 1) / sqrt(n)
    assert summary["success_rate"] == pytest.approx(0.25)
    assert summary["mean_steps"] == pytest.approx((3 + 2 + 5 + 1) / 4)
    assert summary["episodes"] == 4


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="one success flag per reward"):
        episode_result(0, [0.1, 0.2], [False])
    with pytest.raises(ValueError, match="no episodes"):
        summarize([])
