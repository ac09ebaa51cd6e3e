"""Simulated environments: PushT, PushT-M (random goals) and two-block pushing, all 96x96 pixels + agent_pos.

``make(name, **options)`` builds one env (wrapped in a 300-step time limit); ``make_vector`` builds a
gymnasium vector env of them; ``policy_observation(obs)`` turns an observation of either into the input
of ``uva_kit.Policy.select_action``. Needs the ``sim`` extra: ``pip install 'uva_kit[sim]'``.

Besides the registered names, ``name`` may be ``"package.module:callable"``: your own env, a callable (a
function or a gymnasium.Env class) that returns a ``gymnasium.Env``; ``make`` imports it and passes it the
options, so everything that takes an env name (``uva-kit eval policy --env``) takes yours.
"""

from __future__ import annotations

import importlib
import inspect
import os

from uva_kit.errors import MissingKeyError, UvaKitError, choices_hint

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # pygame's import banner would land in every eval's output

MAX_EPISODE_STEPS = 300

# name -> (module:class, fixed constructor options)
ENVIRONMENTS: dict[str, tuple[str, dict]] = {
    "pusht": ("uva_kit.envs.pusht:PushTEnv", {}),
    "pusht-m": ("uva_kit.envs.pusht:PushTEnv", {"random_goal": True}),
    "two-block": ("uva_kit.envs.two_block:TwoBlockEnv", {}),
}


def unknown_environment(name: str) -> str | None:
    """Why ``name`` names no environment (neither a registered name nor "package.module:callable"); None when it
    does. Nothing is imported: the command line checks names with it as it parses them."""
    module, _, attribute = name.partition(":")
    if name in ENVIRONMENTS or (module and attribute):
        return None
    return (f"unknown environment '{name}'.{choices_hint(name, ENVIRONMENTS)} Your own env: "
            "'package.module:callable', a callable returning a gymnasium.Env")


def env_class(name: str):
    """The env class (or factory) that ``name`` names and the options the name fixes: a registered name, or
    ``"package.module:callable"`` (none fixed)."""
    problem = unknown_environment(name)
    if problem is not None:
        raise UvaKitError(problem)
    target, fixed = ENVIRONMENTS.get(name, (name, {}))
    module_name, _, attribute = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        if name in ENVIRONMENTS:
            raise UvaKitError(f"environment '{name}' needs the simulation extra ({exc.name} is missing): "
                              "pip install 'uva_kit[sim]'") from exc
        raise UvaKitError(f"environment '{name}': cannot import module '{module_name}' ({exc}); install its "
                          "package or add the folder that holds it to PYTHONPATH") from exc
    factory = getattr(module, attribute, None)
    if not callable(factory):
        own = [key for key, value in vars(module).items()
               if callable(value) and getattr(value, "__module__", None) == module_name and not key.startswith("_")]
        found = "is not callable" if hasattr(module, attribute) else "is missing"
        raise UvaKitError(f"environment '{name}': '{attribute}' of module '{module_name}' {found}; name a function "
                          f"or class that returns a gymnasium.Env.{choices_hint(attribute, own)}")
    return factory, fixed


def make(name: str, max_episode_steps: int = MAX_EPISODE_STEPS, **options):
    """Build the environment ``name`` (pusht, pusht-m, two-block, or "package.module:callable") with ``options``.

    PushT options: ``legacy_seeding`` (bool), ``observation_size`` (int). Two-block: ``observation_size``.
    """
    factory, fixed = env_class(name)  # first: a built-in env says which extra it needs
    try:
        import gymnasium as gym
    except ImportError as exc:
        raise UvaKitError(f"environment '{name}' needs gymnasium ({exc}): pip install 'uva_kit[sim]'") from exc
    signature = inspect.signature(factory)
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values()):
        accepted = set(signature.parameters) - set(fixed)
        unknown = sorted(set(options) - accepted)
        if unknown:
            raise UvaKitError(
                f"environment '{name}' has no option '{unknown[0]}'.{choices_hint(unknown[0], accepted)}"
            )
    try:
        signature.bind(**fixed, **options)
    except TypeError as exc:
        raise UvaKitError(f"environment '{name}' cannot be built from the options {sorted(options)}: {exc}") from exc
    env = factory(**fixed, **options)
    if not isinstance(env, gym.Env):
        raise UvaKitError(f"environment '{name}' returned a {type(env).__name__}, not a gymnasium.Env: return one "
                          "(subclass gymnasium.Env, with observation_space and action_space)")
    return gym.wrappers.TimeLimit(env, max_episode_steps=max_episode_steps)


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
    (N, 3, H, W) float in [0, 1]; every other numeric entry (``agent_pos``, ``pusht_state``) a float32 tensor,
    and the rest (text, nested dicts) stays as it is (the policy reads only the keys it needs)::

        action = policy.select_action(policy_observation(obs))
    """
    import numpy as np
    import torch

    if "pixels" not in obs:
        raise MissingKeyError(f"an env observation has 'pixels' (H, W, 3) uint8; got keys {sorted(obs)}")
    def converted(value):
        array = np.asarray(value)
        return torch.as_tensor(array, dtype=torch.float32) if array.dtype.kind in "biuf" else value

    pixels = torch.from_numpy(np.asarray(obs["pixels"]))
    values = {key: converted(value) for key, value in obs.items() if key != "pixels"}
    return {"image": pixels.movedim(-1, -3).float() / 255.0, **values}


__all__ = ["ENVIRONMENTS", "MAX_EPISODE_STEPS", "env_class", "make", "make_vector", "policy_observation"]
