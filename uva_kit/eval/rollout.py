"""Closed-loop episodes in vectorized environments, one seed per episode, batched ``batch_envs`` at a time."""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import numpy as np
from tqdm import tqdm

from uva_kit.errors import InputError
from uva_kit.eval.scoring import EpisodeResult, episode_result, summarize

LEGACY_SEEDED_ENVS = ("pusht", "pusht-m")  # start states as the original evaluation (seeds 100000..)


@attrs.frozen
class Recording:
    """A recorded episode: its frames (T + 1, H, W, 3) uint8 from the reset on, and the reward of each of its T steps."""

    frames: np.ndarray
    rewards: list[float]


def default_env_options(env: str) -> dict:
    """The options an evaluation uses unless told otherwise: legacy seeding where the env has it."""
    return {"legacy_seeding": True} if env in LEGACY_SEEDED_ENVS else {}


def run_episodes(
    env: str,
    agent,
    seeds: Sequence[int],
    *,
    batch_envs: int = 8,
    max_steps: int = 300,
    env_options: dict | None = None,
    record: int = 0,
    asynchronous: bool = False,
    progress: bool = True,
    description: str | None = None,
) -> tuple[list[EpisodeResult], dict[int, Recording]]:
    """Run one episode per seed with ``agent``; return the results (in seed order) and the recorded episodes.

    The frames the agent saw, from the reset to the last step, and the rewards are recorded for the first
    ``record`` seeds. An episode ends when the env terminates (success) or after ``max_steps`` steps.
    """
    from uva_kit.envs import make_vector

    if batch_envs < 1 or max_steps < 1:
        raise InputError(f"batch_envs and max_steps must be at least 1, got {batch_envs} and {max_steps}")
    options = {**default_env_options(env), **(env_options or {}), "max_episode_steps": max_steps}
    recorded_seeds = set(list(seeds)[:record])
    results: list[EpisodeResult] = []
    recordings: dict[int, Recording] = {}
    vectors: dict[int, object] = {}
    bar = tqdm(total=len(seeds), desc=description or f"{env} {agent.name}", unit="episode", disable=not progress)
    steps = batch_step_bar(max_steps, progress)
    try:
        for start in range(0, len(seeds), batch_envs):
            batch = [int(s) for s in seeds[start:start + batch_envs]]
            if len(batch) not in vectors:
                vectors[len(batch)] = make_vector(env, len(batch), asynchronous=asynchronous, **options)
            steps.reset()
            finished = _run_batch(vectors[len(batch)], agent, batch, recorded_seeds, recordings, bar, steps)
            results.extend(finished)
            bar.set_postfix(summary_postfix(results))
    finally:
        steps.close()
        bar.close()
        for vector in vectors.values():
            vector.close()
    return results, recordings


def batch_step_bar(max_steps: int, progress: bool) -> tqdm:
    """A bar below the episode bar counting the env steps of the running batch (``reset()`` it per batch): the
    episode bar only moves when a batch ends, minutes apart with long episodes."""
    return tqdm(total=max_steps, desc="steps of this batch", unit="step", leave=False, position=1, disable=not progress)


def summary_postfix(results: Sequence[EpisodeResult]) -> dict:
    summary = summarize(results)
    return {"score": f"{summary['score']:.3f}", "success": f"{summary['success_rate']:.0%}"}


class EpisodeBatch:
    """The per-step rewards, successes and (for the recorded seeds) frames of a batch of episodes run side by side
    in one vectorized env, from its reset until every episode is done; ``bar`` counts finished episodes, ``steps``
    env steps."""

    def __init__(self, seeds: list[int], first_obs: dict, recorded_seeds: set, bar, steps):
        self.seeds = seeds
        self.rewards: list[list[float]] = [[] for _ in seeds]
        self.successes: list[list[bool]] = [[] for _ in seeds]
        self.frames = {i: [first_obs["pixels"][i]] for i, s in enumerate(seeds) if s in recorded_seeds}
        self.done = np.zeros(len(seeds), dtype=bool)
        self._bar, self._steps = bar, steps

    def record_step(self, obs: dict, reward, terminated, truncated, info: dict) -> None:
        """Add one ``vector.step`` to the episodes still running; those that terminated or were truncated end."""
        success = info.get("is_success", np.zeros(len(self.seeds), dtype=bool))
        for i in np.flatnonzero(~self.done):
            self.rewards[i].append(float(reward[i]))
            self.successes[i].append(bool(success[i]))
            if i in self.frames:
                self.frames[i].append(obs["pixels"][i])
        newly_done = ~self.done & (terminated | truncated)
        self.done |= newly_done
        self._bar.update(int(newly_done.sum()))
        self._steps.update()

    def results(self, recordings: dict) -> list[EpisodeResult]:
        """Each episode's result, in seed order; the recorded episodes go into ``recordings`` by seed."""
        for i, episode_frames in self.frames.items():
            recordings[self.seeds[i]] = Recording(np.stack(episode_frames), self.rewards[i])
        return [episode_result(seed, self.rewards[i], self.successes[i]) for i, seed in enumerate(self.seeds)]


def _run_batch(vector, agent, seeds: list[int], recorded_seeds: set, recordings: dict, bar,
               steps) -> list[EpisodeResult]:
    obs, _ = vector.reset(seed=seeds)
    agent.reset(seeds)
    episodes = EpisodeBatch(seeds, obs, recorded_seeds, bar, steps)
    while not episodes.done.all():
        obs, reward, terminated, truncated, info = vector.step(agent.act(obs).astype(np.float32))
        episodes.record_step(obs, reward, terminated, truncated, info)
    return episodes.results(recordings)
