"""PushT visual disturbances (paper Table III): images change, physics, start states and rewards do not."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("gym_pusht")

import uva_kit.envs as envs  # noqa: E402
from uva_kit.envs.pusht import VISUAL_VARIANTS  # noqa: E402
from uva_kit.errors import UvaKitError  # noqa: E402


def rollout(visual: str, seed: int = 100003):
    env = envs.make("pusht", legacy_seeding=True, visual=visual)
    first, _ = env.reset(seed=seed)
    steps = [env.step(np.array(target, dtype=np.float32)) for target in ([300, 300], [260, 280], [240, 250])]
    return first, steps


def test_variants_change_only_the_image():
    normal_first, normal_steps = rollout("normal")
    for visual in VISUAL_VARIANTS[1:]:
        first, steps = rollout(visual)
        np.testing.assert_array_equal(first["agent_pos"], normal_first["agent_pos"])
        assert not np.array_equal(first["pixels"], normal_first["pixels"]), visual
        for (obs, reward, *_), (normal_obs, normal_reward, *_) in zip(steps, normal_steps):
            np.testing.assert_array_equal(obs["agent_pos"], normal_obs["agent_pos"])
            assert reward == normal_reward


def test_distractors_are_reproducible_per_seed_and_differ_across_seeds():
    a, _ = rollout("bg-object", seed=5)
    b, _ = rollout("bg-object", seed=5)
    c, _ = rollout("bg-object", seed=6)
    np.testing.assert_array_equal(a["pixels"], b["pixels"])
    assert not np.array_equal(a["pixels"], c["pixels"])


def test_unknown_variant_names_the_choices():
    with pytest.raises(UvaKitError, match="Did you mean 'bg-color'"):
        envs.make("pusht", visual="bg-colour")


def test_the_cli_offers_exactly_the_env_variants():
    from uva_kit.cli.eval import VISUALS

    assert VISUALS == VISUAL_VARIANTS
