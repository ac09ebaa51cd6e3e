"""Simulated environments: PushT, PushT-M (random goals) and two-block pushing, all 96x96 pixels + agent_pos.

``make(name, **options)`` builds one env (wrapped in a 300-step time limit); ``make_vector`` builds a
gymnasium vector env of them; ``policy_observation(obs)`` turns an observation of either into the input
of ``uva_kit.Policy.select_action``. Needs the ``sim`` extra: ``pip install 'uva_kit[sim]'``.
"""

from __future__ import annotations

import importlib
import inspect

from uva_kit.errors import MissingKeyError, UvaKitError, choices_hint

MAX_EPISODE_STEPS = 300

# name -> (module:class, fixed constructor options)
ENVIRONMENTS: dict[str, tuple[str, dict]] = {
    "pusht": ("uva_kit.envs.pusht:PushTEnv", {}),
    "pusht-m": ("uva_kit.envs.pusht:PushTEnv", {"random_goal": True}),
    "two-block": ("uva_kit.envs.two_block:TwoBlockEnv", {}),
}


def env_class(name: str):
    """The env class registered as ``name`` and the options the name fixes."""
    if name not in ENVIRONMENTS:
        raise UvaKitError(f"unknown environment '{name}'.{choices_hint(name, ENVIRONMENTS)}")
    target, fixed = ENVIRONMENTS[name]
    module_name, class_name = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UvaKitError(
            f"environment '{name}' needs the simulation extra ({exc.name} is missing): pip install 'uva_kit[sim]'"
        ) from exc
    return getattr(module, class_name), fixed


def make(name: str, max_episode_steps: int = MAX_EPISODE_STEPS, **options):
    """Build the environment ``name`` (pusht, pusht-m, two-block) with constructor ``options``.

    PushT options: ``legacy_seeding`` (bool), ``observation_size`` (int). Two-block: ``observation_size``.
    """
    import gymnasium as gym

    cls, fixed = env_class(name)
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self"} - set(fixed)
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise UvaKitError(
            f"environment '{name}' has no option '{unknown[0]}'.{choices_hint(unknown[0], accepted)}"
        )
    return gym.wrappers.TimeLimit(cls(**fixed, **options), max_episode_steps=max_episode_steps)


def make_vector(name: str, num_envs: int, asynchronous: bool = False, **options):
    """A gymnasium vector env of ``num_envs`` copies of ``make(name, **options)``.

    ``asynchronous=True`` runs each copy in its own process. Reset with ``seed=[s0, s1, ...]`` to seed each.
    """
    import gymnasium as gym

    make(name, **options).close()  # validate the options here, not in a worker process
    factories = [lambda: make(name, **options) for _ in range(num_envs)]
    if asynchronous:
        return gym.vector.AsyncVectorEnv(factories)
    return gym.vector.SyncVectorEnv(factories)


def policy_observation(obs: dict) -> dict:
    """An observation of ``make`` or ``make_vector`` as ``uva_kit.Policy.select_action`` takes it.

    ``"pixels"`` (H, W, 3) uint8, or (N, H, W, 3) from a vector env, becomes ``"image"`` (3, H, W) or
    (N, 3, H, W) float in [0, 1]; every other entry (``agent_pos``, ``pusht_state``) a float32 tensor::

        action = policy.select_action(policy_observation(obs))
    """
    import numpy as np
    import torch

    if "pixels" not in obs:
        raise MissingKeyError(f"an env observation has 'pixels' (H, W, 3) uint8; got keys {sorted(obs)}")
    pixels = torch.from_numpy(np.asarray(obs["pixels"]))
    values = {key: torch.as_tensor(np.asarray(value), dtype=torch.float32) for key, value in obs.items() if key != "pixels"}
    return {"image": pixels.movedim(-1, -3).float() / 255.0, **values}


__all__ = ["ENVIRONMENTS", "MAX_EPISODE_STEPS", "env_class", "make", "make_vector", "policy_observation"]
