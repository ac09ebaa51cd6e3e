"""The scripted pushing expert: an exact twin simulator, and solved episodes in PushT and two-block."""

import numpy as np
import pytest

pytest.importorskip("gym_pusht", reason="needs the sim extra: pip install 'uva_kit[sim]'")

from uva_kit.envs import make  # noqa: E402
from uva_kit.envs.experts import PushExpert  # noqa: E402
from uva_kit.envs.experts.simulator import SceneState  # noqa: E402


def test_twin_simulator_predicts_the_real_env():
    expert = PushExpert("pusht")
    env = make("pusht")
    env.reset(seed=3)
    raw = env.unwrapped
    state = SceneState.read(raw.agent, [raw.block])
    block_xy = np.array(raw.block.position)
    actions = [block_xy + np.array([-60.0 + 12 * k, 40.0]) for k in range(12)]
    predicted = expert.simulator.rollout(state, actions)
    for action in actions:
        env.step(action)
    np.testing.assert_allclose(predicted[0, :2], raw.block.position, atol=0.5)
    assert predicted[0, 2] == pytest.approx(raw.block.angle, abs=0.01)


def test_pusht_expert_solves_an_episode_and_records_it():
    episode = PushExpert("pusht").record_episode(seed=2)
    assert episode.success and episode.max_reward == 1.0
    assert episode.frames.shape == (episode.length, 96, 96, 3)
    assert episode.actions.shape == (episode.length, 2)
    assert episode.extras["contact_impulse"].shape == (episode.length, 2)
    assert np.abs(episode.extras["contact_impulse"]).sum() > 0
    assert episode.extras["environment_state"].shape == (episode.length, 5)


def test_two_block_expert_places_both_blocks():
    episode = PushExpert("two-block").record_episode(seed=3)
    assert episode.success
    assert episode.extras["environment_state"].shape == (episode.length, 8)


def test_diverse_expert_is_reproducible_per_seed():
    expert = PushExpert("pusht")
    first = expert.record_episode(seed=5, max_steps=25)
    again = expert.record_episode(seed=5, max_steps=25)
    np.testing.assert_array_equal(first.actions, again.actions)
    assert first.length == 25
