"""Episode scores as the paper reports them: each episode's best reward, averaged; plus the success rate.

The paper's PushT number (Diffusion Policy's ``test/mean_score``) is the mean over episodes of each
episode's **maximum** reward, reward = clip(coverage / 0.95, 0, 1); it is not a binary success rate, so
both are reported.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import numpy as np

from uva_kit.errors import InputError


@attrs.frozen
class EpisodeResult:
    """One finished episode: its seed, best reward, whether it succeeded, and how many steps it ran."""

    seed: int
    score: float  # max reward over the episode
    success: bool  # the env reported success at some step
    steps: int
    final_reward: float

    def to_dict(self) -> dict:
        return attrs.asdict(self)


def episode_result(seed: int, rewards: Sequence[float], successes: Sequence[bool]) -> EpisodeResult:
    """Score an episode from its per-step rewards and success flags (one per executed step)."""
    if len(rewards) == 0 or len(rewards) != len(successes):
        raise InputError(f"need one success flag per reward and at least one step, got {len(rewards)} "
                         f"rewards and {len(successes)} flags")
    return EpisodeResult(seed=int(seed), score=float(np.max(rewards)), success=bool(np.any(successes)),
                         steps=len(rewards), final_reward=float(rewards[-1]))


def episode_caption(episode: dict) -> str:
    """One line on an episode (an ``EpisodeResult.to_dict()``): "seed 100000, best reward 0.42, 300 steps"."""
    ending = ", success" if episode["success"] else ""
    return f"seed {episode['seed']}, best reward {episode['score']:.2f}, {episode['steps']} steps{ending}"


def summarize(results: Sequence[EpisodeResult]) -> dict:
    """The paper's score (mean best reward), its standard error over episodes (0 for one episode), the success
    rate and the mean episode length."""
    if not results:
        raise InputError("no episodes to summarize")
    scores = np.array([r.score for r in results])
    return {
        "score": float(scores.mean()),
        "score_sem": float(scores.std(ddof=1) / np.sqrt(len(scores))) if len(scores) > 1 else 0.0,
        "success_rate": float(np.mean([r.success for r in results])),
        "mean_steps": float(np.mean([r.steps for r in results])),
        "episodes": len(results),
    }
