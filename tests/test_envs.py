"""PushT, PushT-M and two-block environments: observations, seeding, goals, contact impulse, vectorization."""

import numpy as np
import pytest

pytest.importorskip("gym_pusht", reason="needs the sim extra: pip install 'uva_kit[sim]'")

import uva_kit.envs as envs  # noqa: E402
from uva_kit.envs.pusht import FIXED_GOAL, legacy_initial_state  # noqa: E402
from uva_kit.errors import UvaKitError  # noqa: E402


@pytest.mark.parametrize("name", sorted(envs.ENVIRONMENTS))
def test_observation_is_96_pixels_and_agent_pos(name):
    env = envs.make(name)
    observation, info = env.reset(seed=0)
    assert observation["pixels"].shape == (96, 96, 3) and observation["pixels"].dtype == np.uint8
    assert observation["agent_pos"].shape == (2,)
    observation, reward, terminated, truncated, info = env.step(env.action_space.sample())
    assert info["contact_impulse"].shape == (2,)
    assert 0.0 <= reward <= 1.0
    assert env.spec is None or env.spec.max_episode_steps in (None, 300)


def test_unknown_environment_and_option_are_clear_errors():
    with pytest.raises(UvaKitError, match="Did you mean 'pusht'"):
        envs.make("pushtt")
    with pytest.raises(UvaKitError, match="has no option 'legacy_seed'.*Did you mean 'legacy_seeding'"):
        envs.make("pusht", legacy_seed=True)


def test_legacy_seeding_reproduces_the_original_start_states():
    env = envs.make("pusht", legacy_seeding=True)
    for seed in (100000, 100049):
        observation, _ = env.reset(seed=seed)
        state = legacy_initial_state(seed)
        expected = np.random.RandomState(seed)
        assert state[:4].tolist() == [expected.randint(50, 450), expected.randint(50, 450),
                                      expected.randint(100, 400), expected.randint(100, 400)]
        np.testing.assert_allclose(observation["agent_pos"], state[:2])
        assert env.unwrapped.block.angle == pytest.approx(state[4])
    plain = envs.make("pusht")
    observation, _ = plain.reset(seed=100000)
    assert not np.allclose(observation["agent_pos"], legacy_initial_state(100000)[:2])


def test_pusht_m_draws_seeded_random_goals_that_show_in_the_image():
    env = envs.make("pusht-m")
    goals = []
    for seed in (0, 1, 0):
        env.reset(seed=seed)
        goals.append(np.array(env.unwrapped.goal_pose))
    np.testing.assert_array_equal(goals[0], goals[2])
    assert not np.allclose(goals[0], goals[1])
    assert all(156 <= g[0] <= 356 and 156 <= g[1] <= 356 and 0 <= g[2] <= 2 * np.pi for g in goals)
    fixed = envs.make("pusht")
    fixed.reset(seed=0)
    np.testing.assert_allclose(fixed.unwrapped.goal_pose, FIXED_GOAL)
    moved, _ = env.reset(seed=0, options={"reset_to_state": [60, 60, 450, 450, 0.0]})
    static, _ = fixed.reset(seed=0, options={"reset_to_state": [60, 60, 450, 450, 0.0]})
    assert np.any(moved["pixels"] != static["pixels"])  # the green goal is drawn where it was drawn


def test_contact_impulse_points_along_the_push():
    env = envs.make("pusht")
    env.reset(options={"reset_to_state": [150, 315, 256, 300, 0.0]})  # agent left of the T's bar
    _, _, _, _, info = env.step(np.array([150, 315]))
    assert np.all(info["contact_impulse"] == 0)
    impulses = [env.step(np.array([300, 315]))[4]["contact_impulse"] for _ in range(4)]
    assert max(i[0] for i in impulses) > 10  # pushing in +x
    assert all(i[0] >= 0 for i in impulses)


def test_two_block_reward_and_success_follow_the_distances():
    env = envs.make("two-block")
    targets = [[150.0, 150.0], [350.0, 350.0]]
    _, info = env.reset(options={"targets": targets, "reset_to_state": [450, 60, 150, 150, 0, 350, 350, 0]})
    assert info["is_success"] and np.all(info["block_distances"] < 1)
    _, reward, terminated, _, _ = env.step(np.array([450, 60]))
    assert terminated and reward == pytest.approx(1.0, abs=0.01)
    _, info = env.reset(options={"targets": targets, "reset_to_state": [450, 60, 150, 200, 0, 350, 350, 0]})
    _, reward, terminated, _, info = env.step(np.array([450, 60]))
    assert not terminated and reward == pytest.approx((0.5 + 1.0) / 2, abs=0.01)


def test_observations_carry_the_pusht_state_with_the_angle_on_the_circle():
    env = envs.make("pusht")
    observation, _ = env.reset(seed=0)
    for _ in range(3):
        state = env.unwrapped.state_vector()
        assert env.observation_space.contains(observation)
        np.testing.assert_allclose(observation["pusht_state"][:4], state[:4], rtol=1e-6)
        np.testing.assert_allclose(observation["pusht_state"][4:], [np.cos(state[4]), np.sin(state[4])], atol=1e-6)
        observation, *_ = env.step(np.array([256.0, 256.0]))


def test_vector_env_resets_each_copy_with_its_seed():
    vector = envs.make_vector("pusht", 2, legacy_seeding=True)
    observations, infos = vector.reset(seed=[100000, 100001])
    assert observations["pixels"].shape == (2, 96, 96, 3)
    np.testing.assert_allclose(observations["agent_pos"][1], legacy_initial_state(100001)[:2])
    _, rewards, _, _, infos = vector.step(np.array([[200.0, 200.0], [300.0, 300.0]]))
    assert rewards.shape == (2,) and infos["contact_impulse"].shape == (2, 2)
    vector.close()


@pytest.mark.parametrize("name", ["pusht", "pusht-m"])
def test_restore_state_brings_back_a_recorded_pose_that_reset_to_state_moves(name):
    env = envs.make(name)
    env.reset(seed=3)
    for _ in range(20):  # push the T around so its angle is far from zero
        env.step(np.array([256.0, 256.0]))
    recorded, pixels = env.unwrapped.state_vector(), env.unwrapped.get_obs()["pixels"]

    twin = envs.make(name)
    restored, _ = twin.reset(seed=3, options={"restore_state": recorded})  # the same seed draws PushT-M's same goal
    np.testing.assert_allclose(twin.unwrapped.state_vector(), recorded, atol=1e-6)
    assert np.abs(restored["pixels"].astype(int) - pixels).max() == 0

    twin.reset(options={"reset_to_state": recorded})  # gym-pusht's legacy order turns the T about its centre of mass
    assert np.linalg.norm(twin.unwrapped.state_vector()[2:4] - recorded[2:4]) > 1.0
    with pytest.raises(UvaKitError, match="not both"):
        twin.reset(options={"restore_state": recorded, "reset_to_state": recorded})


def test_without_the_sim_extra_make_says_how_to_install_it(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    (tmp_path / "plain_env.py").write_text("def make_env():\n    return object()\n")  # needs no gymnasium to import
    script = ("import sys; sys.modules['gymnasium'] = sys.modules['gym_pusht'] = None\n"
              "import uva_kit.envs as envs\n"
              "for name in ('pusht', 'plain_env:make_env'):\n"
              "    try:\n        envs.make(name)\n"
              "    except Exception as error:\n        print(type(error).__name__, error)\n")
    root = Path(envs.__file__).parents[2]
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path,
                            env={"PYTHONPATH": f"{root}:{tmp_path}", "PYGAME_HIDE_SUPPORT_PROMPT": "1"})
    lines = result.stdout.splitlines()
    assert lines[0].startswith("UvaKitError environment 'pusht' needs the simulation extra"), result
    assert lines[1].startswith("UvaKitError environment 'plain_env:make_env' needs gymnasium"), result
    assert all(line.endswith("pip install 'uva_kit[sim]'") for line in lines)


def test_importing_the_envs_prints_nothing():
    """pygame's "Hello from the pygame community" banner is kept out of every collect and eval output."""
    import os
    import subprocess
    import sys

    env = {key: value for key, value in os.environ.items() if key != "PYGAME_HIDE_SUPPORT_PROMPT"}
    printed = subprocess.run([sys.executable, "-c", "import uva_kit.envs.pusht, uva_kit.envs.two_block"],
                             capture_output=True, text=True, env=env, timeout=120)
    assert printed.returncode == 0 and printed.stdout == "", printed.stdout + printed.stderr
