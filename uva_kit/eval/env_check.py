"""Does an environment give a model's policy what it reads? Checked on one reset, before an evaluation starts.

A policy evaluation needs, per observation, ``"pixels"`` (H, W, 3) uint8 and a (dim,) value under each key of
``model.policy_observations``, all declared in the env's ``observation_space`` (the vector env batches only
what it declares), and takes actions of shape (action_dim,) in the units of the training data.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from uva_kit.errors import UvaKitError


def check_env_for_policy(env: str, model) -> None:
    """Build ``env`` (a name of ``uva_kit.envs.make``), reset it once, and raise a UvaKitError naming the keys and
    shapes expected and got when its observations or actions do not fit ``model``'s policy."""
    from uva_kit.envs import make

    instance = make(env)
    try:
        obs, _ = instance.reset(seed=0)
        problems = _problems(obs, instance.observation_space, instance.action_space, model)
    finally:
        instance.close()
    if problems:
        got = ("{" + ", ".join(f"'{key}': {_described(value)}" for key, value in obs.items()) + "}"
               if isinstance(obs, Mapping) else f"a {type(obs).__name__}")
        expected = ", ".join(["'pixels': (H, W, 3) uint8",
                              *(f"'{key}': {_shape(dim)}" for key, (_, dim) in _streams(model).items())])
        raise UvaKitError(f"environment '{env}' does not fit this model's policy: {'; '.join(problems)}. "
                          f"Expected observations {{{expected}}}, got {got}")


def _streams(model) -> dict[str, tuple[str, int | None]]:
    """Observation key -> (the policy's modality that reads it, its width or None), beside the pixels."""
    return {key: (name, getattr(model.modalities[name], "dim", None)) for name, key in model.policy_observations.items()}


def _shape(dim: int | None) -> str:
    return f"({'dim' if dim is None else dim},)"


def _problems(obs, observation_space, action_space, model) -> list[str]:
    if not isinstance(obs, Mapping):
        return ["an observation must be a dict"]
    problems = []
    if "pixels" not in obs:
        problems.append("no 'pixels'")
    elif np.ndim(obs["pixels"]) != 3 or np.shape(obs["pixels"])[-1] != 3 or np.asarray(obs["pixels"]).dtype != np.uint8:
        problems.append(f"'pixels' is {_described(obs['pixels'])}, not (H, W, 3) uint8")
    for key, (name, dim) in _streams(model).items():
        if key not in obs:
            problems.append(f"no '{key}' (the policy's '{name}' modality reads it)")
        elif np.ndim(obs[key]) != 1 or dim not in (None, np.shape(obs[key])[0]):
            problems.append(f"'{key}' is {_described(obs[key])}, not {_shape(dim)}")
    declared = getattr(observation_space, "spaces", {})
    for key in ["pixels", *_streams(model)]:
        if key in obs and (key not in declared or declared[key].shape != np.shape(obs[key])):
            problems.append(f"observation_space (a gymnasium.spaces.Dict) must declare '{key}' with the shape the "
                            f"observations have, {np.shape(obs[key])} (the vector env batches what it declares)")
    action_dim = model.spec.layout.action_dim
    if getattr(action_space, "shape", None) != (action_dim,):
        problems.append(f"action_space has shape {getattr(action_space, 'shape', None)}, the model's actions "
                        f"({action_dim},)")
    return problems


def _described(value) -> str:
    value = np.asarray(value)
    return f"{value.shape} {value.dtype}"
