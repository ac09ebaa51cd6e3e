"""What acts in an evaluation rollout: a UVA checkpoint through ``uva_kit.Policy``, or a baseline.

An agent sees a batch of vector-env observations ({"pixels": (N, H, W, 3) uint8, "agent_pos": (N, 2)})
and returns absolute actions (N, 2) in environment units. ``reset(seeds)`` starts one episode per seed.

Baselines, to compare with on the same seeds: ``random`` (uniform targets in the 512 x 512 workspace,
one RNG per episode seed) and ``still`` (the agent's own position: it stays where it is).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from uva_kit.errors import UvaKitError, choices_hint

WORKSPACE = 512.0


class RandomAgent:
    name = "random"

    def reset(self, seeds: Sequence[int]) -> None:
        self.rngs = [np.random.default_rng(seed) for seed in seeds]

    def act(self, obs: dict) -> np.ndarray:
        return np.stack([rng.uniform(0.0, WORKSPACE, size=2) for rng in self.rngs])


class StillAgent:
    name = "still"

    def reset(self, seeds: Sequence[int]) -> None:
        pass

    def act(self, obs: dict) -> np.ndarray:
        return np.asarray(obs["agent_pos"], dtype=np.float64).copy()


BASELINES = {"random": RandomAgent, "still": StillAgent}


def baseline(name: str):
    """A fresh baseline agent by name."""
    if name not in BASELINES:
        raise UvaKitError(f"unknown baseline agent '{name}'.{choices_hint(name, BASELINES)}")
    return BASELINES[name]()


class PolicyAgent:
    """A UVA model as a closed-loop policy: the checkpoint's observation window, ``n_action_steps`` of each chunk.

    Each episode draws its sampling noise from a generator of its own, seeded by ``seed`` and the episode's
    seed: an episode acts the same whatever the batch it runs in, and a run is reproducible. ``instruction``
    is the task of every episode for a model with the language modality.
    """

    def __init__(self, model, name: str = "uva", n_action_steps: int = 8, seed: int = 0, instruction: str | None = None):
        from uva_kit.model.policy import Policy

        self.name = name
        self.model = model.eval()
        self.seed = seed
        self.policy = Policy(model, n_action_steps=n_action_steps, instruction=instruction)

    @property
    def history_frames(self) -> int:
        return self.model.spec.layout.history_frames

    @property
    def n_action_steps(self) -> int:
        return self.policy.n_action_steps

    @property
    def device(self) -> str:
        return str(self.model.device)

    def reset(self, seeds: Sequence[int]) -> None:
        self.policy.generator = [self.episode_generator(seed) for seed in seeds]
        self.policy.reset()

    def episode_generator(self, episode_seed: int):
        """The generator of the episode on ``episode_seed``: seeded by the agent's seed and the episode's."""
        import torch

        state = np.random.SeedSequence([self.seed, int(episode_seed)]).generate_state(1, np.uint64)[0]
        return torch.Generator(device=self.model.device).manual_seed(int(state))

    def act(self, obs: dict) -> np.ndarray:
        from uva_kit.envs import policy_observation

        return self.policy.select_action(policy_observation(obs)).detach().cpu().double().numpy()
