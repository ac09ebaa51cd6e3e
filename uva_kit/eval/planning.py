"""Forward-dynamics planning on two-block pushing (the paper's Table V).

At every replanning, for each environment:

1. sample K candidate action chunks from a base policy (``predict_actions`` of a UVA checkpoint);
2. score each: ``uva`` predicts the future frames with ``forward_dynamics`` and reads the reward from the
   last predicted frame (:func:`uva_kit.eval.frame_reward.frame_reward`); ``simulator`` replays the chunk in
   a copy of the environment and reads the reward the same way from its rendered frame (the paper's
   ground-truth-dynamics upper bound); ``base`` takes a single sample unscored (the base policy alone);
3. execute the first ``execute_steps`` (6) actions of the best candidate and replan.

Target centres come from the real observations (targets never move; an occluded target keeps its last
seen position). All selectors run on the same seeds, so their scores compare directly.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from uva_kit.errors import InputError
from uva_kit.eval.frame_reward import frame_reward, locate
from uva_kit.eval.plots import bar_plot
from uva_kit.eval.report import Report, percent
from uva_kit.eval.rollout import EpisodeBatch, Recording, batch_step_bar, summary_postfix
from uva_kit.eval.scoring import EpisodeResult, episode_caption, summarize
from uva_kit.eval.visuals import to_uint8, write_rollout

SELECTORS = ("base", "uva", "simulator")
ENV = "two-block"


class ObservationHistory:
    """What a UVA model conditions on: the frames at steps frame_offset + i * frame_stride of its window (the
    first step repeated at an episode's start) and, at the same steps, the observed inputs of its policy mode."""

    def __init__(self, layout, observed: dict[str, str] | None = None):
        window = layout.frame_offset + layout.frame_stride * (layout.history_frames - 1) + 1
        self.offsets = [layout.frame_offset + layout.frame_stride * i - (window - 1) for i in range(layout.history_frames)]
        self.observed = observed or {}  # modality name -> observation key, as ``model.policy_observations``
        self.frames: list[torch.Tensor] = []
        self.values: list[dict[str, torch.Tensor]] = []

    def add(self, obs: dict) -> None:
        """Append a batch of vector-env observations: "pixels" (B, H, W, 3) uint8 and each observed key (B, dim)."""
        from uva_kit.envs import policy_observation

        observation = policy_observation(obs)
        self.frames.append(observation["image"])
        self.values.append({name: observation[key] for name, key in self.observed.items()})

    def _at_history_steps(self, series: list) -> list:
        now = len(series) - 1
        return [series[max(0, now + offset)] for offset in self.offsets]

    def history(self) -> torch.Tensor:
        """(B, history_frames, 3, H, W) in [0, 1]."""
        return torch.stack(self._at_history_steps(self.frames), dim=1)

    def inputs(self) -> dict[str, torch.Tensor]:
        """The observed inputs by modality name, each (B, history_frames, dim)."""
        steps = self._at_history_steps(self.values)
        return {name: torch.stack([step[name] for step in steps], dim=1) for name in self.observed}


def best_candidates(scores: np.ndarray) -> np.ndarray:
    """Index of the highest-scored candidate per environment (the first on ties), scores (B, K)."""
    return np.asarray(scores).argmax(axis=1)


@torch.no_grad()
def score_with_model(model, history: torch.Tensor, candidates: torch.Tensor, targets, *, num_iter: int = 1,
                     batch_size: int = 64, generator=None) -> np.ndarray:
    """Scores (B, K): the reward read from the last frame ``forward_dynamics`` predicts for each candidate chunk."""
    count, k = candidates.shape[:2]
    histories = history.repeat_interleave(k, dim=0)
    flat = candidates.reshape(count * k, *candidates.shape[2:])
    last_frames = []
    for start in range(0, count * k, batch_size):
        frames = model.forward_dynamics(histories[start:start + batch_size], flat[start:start + batch_size],
                                        num_iter=num_iter, generator=generator)
        last_frames.append(to_uint8(frames[:, -1]))
    last = np.concatenate(last_frames).reshape(count, k, *last_frames[0].shape[1:])
    return np.array([[frame_reward(frame, targets[b]) for frame in last[b]] for b in range(count)])


def score_with_simulator(envs: Sequence, candidates: np.ndarray, targets) -> np.ndarray:
    """Scores (B, K): replay each chunk in a copy of each env (same state, agent velocity included), read the reward."""
    from uva_kit.envs.two_block import TwoBlockEnv

    twin = TwoBlockEnv(observation_size=envs[0].observation_size)
    scores = np.zeros(candidates.shape[:2])
    for b, env in enumerate(envs):
        state, velocity = env.state_vector(), env.agent.velocity
        for j, chunk in enumerate(candidates[b]):
            twin.reset(options={"targets": env.targets, "reset_to_state": state})
            twin.agent.velocity = velocity
            for action in chunk:
                observation, *_ = twin.step(action)
            scores[b, j] = frame_reward(observation["pixels"], targets[b])
    return scores


def _update_targets(targets: list[list], pixels: np.ndarray) -> None:
    for b, frame in enumerate(pixels):
        for i in range(len(targets[b])):
            seen = locate(frame, f"target{i}")
            if seen is not None:
                targets[b][i] = seen


def run_selector(selector: str, base_model, forward_model, seeds: Sequence[int], *, candidates: int = 100,
                 execute_steps: int = 6, max_steps: int = 300, batch_envs: int = 8, num_iter: int = 1, seed: int = 0,
                 record: int = 0, progress: bool = True) -> tuple[list[EpisodeResult], dict[int, Recording]]:
    """Episodes on ``seeds`` with one selector; results in seed order and the first ``record`` seeds' recordings."""
    from uva_kit.envs import make_vector

    if selector not in SELECTORS:
        raise InputError(f"unknown selector '{selector}'; choose from {list(SELECTORS)}")
    chunk = base_model.spec.layout.action_chunk
    if not 1 <= execute_steps <= chunk:
        raise InputError(f"execute_steps must be in 1..{chunk} (the action chunk), got {execute_steps}")
    generator = torch.Generator(device=base_model.device)
    results: list[EpisodeResult] = []
    recordings: dict[int, Recording] = {}
    bar = tqdm(total=len(seeds), desc=f"{ENV} {selector}", unit="episode", disable=not progress)
    steps = batch_step_bar(max_steps, progress)
    try:
        for start in range(0, len(seeds), batch_envs):
            batch = [int(s) for s in seeds[start:start + batch_envs]]
            generator.manual_seed(seed + batch[0])
            vector = make_vector(ENV, len(batch), max_episode_steps=max_steps)
            steps.reset()
            try:
                results += _run_batch(selector, vector, batch, base_model, forward_model, candidates, execute_steps,
                                      num_iter, generator, set(list(seeds)[:record]), recordings, bar, steps)
            finally:
                vector.close()
            bar.set_postfix(summary_postfix(results))
    finally:
        steps.close()
        bar.close()
    return results, recordings


def _run_batch(selector, vector, seeds, base_model, forward_model, k, execute_steps, num_iter, generator, recorded_seeds,
               recordings, bar, steps) -> list[EpisodeResult]:
    count = len(seeds)
    obs, _ = vector.reset(seed=seeds)
    envs = [env.unwrapped for env in vector.envs]
    history = ObservationHistory(base_model.spec.layout, base_model.policy_observations)
    history.add(obs)
    targets: list[list] = [[None, None] for _ in range(count)]
    episodes = EpisodeBatch(seeds, obs, recorded_seeds, bar, steps)
    while not episodes.done.all():
        _update_targets(targets, obs["pixels"])
        frames_now = history.history()
        samples = 1 if selector == "base" else k
        inputs = {name: value.repeat_interleave(samples, dim=0) for name, value in history.inputs().items()}
        sampled = base_model.predict_actions(frames_now.repeat_interleave(samples, dim=0), inputs=inputs,
                                             generator=generator)
        sampled = sampled.reshape(count, samples, *sampled.shape[1:])
        if selector == "uva":
            scores = score_with_model(forward_model, frames_now, sampled, targets, num_iter=num_iter, generator=generator)
        elif selector == "simulator":
            scores = score_with_simulator(envs, sampled.cpu().numpy(), targets)
        else:
            scores = np.zeros((count, 1))
        chosen = sampled[torch.arange(count), torch.from_numpy(best_candidates(scores))].cpu().numpy()
        for step in range(execute_steps):
            obs, reward, terminated, truncated, info = vector.step(chosen[:, step].astype(np.float32))
            history.add(obs)
            episodes.record_step(obs, reward, terminated, truncated, info)
            if episodes.done.all():
                break
    return episodes.results(recordings)


def evaluate_planning(base_model, forward_model, out: Path, *, episodes: int = 10, seed: int = 100000,
                      selectors: Sequence[str] = SELECTORS, candidates: int = 100, execute_steps: int = 6,
                      max_steps: int = 300, batch_envs: int = 8, num_iter: int = 1, videos: int = 1,
                      progress: bool = True, run_info: dict | None = None) -> dict:
    """Every selector on the same seeds; write eval_info.json (led by ``run_info``, the command and its options),
    videos, a plot and report.html to ``out``."""
    seeds = list(range(seed, seed + episodes))
    runs = []
    for selector in selectors:
        results, recordings = run_selector(selector, base_model, forward_model, seeds, candidates=candidates,
                                           execute_steps=execute_steps, max_steps=max_steps, batch_envs=batch_envs,
                                           num_iter=num_iter, record=videos, progress=progress)
        media = []
        for episode_seed, recording in recordings.items():
            mp4, gif = write_rollout(recording.frames, recording.rewards, out / "videos" / selector / f"seed_{episode_seed}")
            media.append({"seed": episode_seed, "mp4": str(mp4.relative_to(out)), "gif": str(gif.relative_to(out))})
        runs.append({"selector": selector, **summarize(results), "per_episode": [r.to_dict() for r in results],
                     "videos": media})
    info = {**(run_info or {}), "env": ENV, "episodes": episodes, "seeds": seeds, "candidates": candidates,
            "execute_steps": execute_steps, "max_steps": max_steps, "num_iter": num_iter, "batch_envs": batch_envs, "device": str(base_model.device),
            "runs": runs}
    (out / "eval_info.json").write_text(json.dumps(info, indent=2))
    _write_report(info, out)
    return info


def _write_report(info: dict, out: Path) -> None:
    runs = info["runs"]
    bar_plot([r["selector"] for r in runs], {"success rate": [r["success_rate"] for r in runs],
                                             "score (mean best reward)": [r["score"] for r in runs]},
             out / "success.png", ylabel="success rate, score (0-1)", ylim=(0, 1.05),
             title=f"two-block: {info['episodes']} episodes per selector", legend_title="error bars: standard error",
             errors={"score (mean best reward)": [r["score_sem"] for r in runs]})
    report = Report("Forward-dynamics planning: two-block pushing")
    report.paragraph(f"{info['episodes']} episodes (seeds {info['seeds'][0]}..{info['seeds'][-1]}). Each replanning samples "
                     f"{info['candidates']} action chunks from the base policy; 'uva' keeps the chunk whose forward_dynamics "
                     "prediction shows the blocks closest to their targets, 'simulator' judges the same way from a "
                     "simulated copy (upper bound), 'base' executes one sample unscored. The first "
                     f"{info['execute_steps']} actions are executed, then it replans.")
    report.table(["selector", "success rate", "score (mean best reward, 0-1)", "± standard error", "mean steps"],
                 [[r["selector"], percent(r["success_rate"]), r["score"], r["score_sem"], f"{r['mean_steps']:.1f}"]
                  for r in runs])
    report.image(out / "success.png")
    if any(r["videos"] for r in runs):
        report.heading("Rollouts (first episodes of each selector; click for the MP4)")
    for r in runs:
        episodes = {e["seed"]: e for e in r["per_episode"]}
        for media in r["videos"]:
            report.image(out / media["gif"], caption=f"{r['selector']}: {episode_caption(episodes[media['seed']])}",
                         link=media["mp4"])
    report.provenance(info)
    report.write(out / "report.html")
