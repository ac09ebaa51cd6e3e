"""Policy evaluation: closed-loop episodes on fixed seeds, the paper's score, success rate, videos and a report.

    from uva_kit.eval import evaluate_policy, policy_evaluator
    summary = evaluate_policy(model, "pusht", episodes=50)          # {"score", "success_rate", ...}
    uva_kit.train.fit(spec, data, out, evaluate=policy_evaluator("pusht", episodes=10))

Protocol (the original's PushT runner): test seeds 100000, 100001, ... (legacy start states on PushT and
PushT-M), the checkpoint's 16-step observation window (frames 3, 7, 11, 15), 8 of the 16 predicted actions
executed before replanning, at most 300 steps; score = mean over episodes of each episode's best reward.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import attrs

from uva_kit.eval.agents import PolicyAgent
from uva_kit.eval.env_check import check_env_for_policy
from uva_kit.eval.plots import bar_plot, line_plot
from uva_kit.eval.report import Report, percent
from uva_kit.eval.rollout import default_env_options, run_episodes
from uva_kit.eval.scoring import EpisodeResult, episode_caption, summarize
from uva_kit.eval.visuals import write_rollout

TEST_SEED = 100000


def evaluate_policy(model, env: str = "pusht", episodes: int = 50, *, seed: int = TEST_SEED, batch_envs: int = 8,
                    max_steps: int = 300, n_action_steps: int = 8, visual: str = "normal", progress: bool = True,
                    instruction: str | None = None) -> dict:
    """Roll ``model`` out on seeds ``seed`` .. ``seed + episodes - 1``; the summary plus per-episode results.

    ``env`` is a name of ``uva_kit.envs.make``: a built-in env or your own ``"package.module:callable"``.
    ``instruction``: every episode's task, for a model with the language modality."""
    check_env_for_policy(env, model)
    agent = PolicyAgent(model, n_action_steps=n_action_steps, instruction=instruction)
    results, _ = run_episodes(env, agent, range(seed, seed + episodes), batch_envs=batch_envs, max_steps=max_steps,
                              env_options=_visual_option(visual), progress=progress)
    return {**summarize(results), "per_episode": [r.to_dict() for r in results]}


def policy_evaluator(env: str = "pusht", episodes: int = 50, **options) -> Callable[[object, int], float]:
    """A ``fit(..., evaluate=...)`` hook: ``evaluate(model, step) -> score`` with :func:`evaluate_policy`'s options."""

    def evaluate(model, step: int) -> float:
        return evaluate_policy(model, env, episodes, progress=False, **options)["score"]

    return evaluate


def _visual_option(visual: str) -> dict:
    return {} if visual == "normal" else {"visual": visual}


@attrs.define
class PolicyRun:
    """One agent on one visual variant: its episodes, its policy's settings (None for a baseline), its videos.

    Beside the seeds, the score depends on ``n_action_steps`` and on ``device`` (which draws the noise).
    """

    label: str
    agent: str
    visual: str
    checkpoint: str | None
    results: list[EpisodeResult]
    history_frames: int | None = None
    n_action_steps: int | None = None
    device: str | None = None
    videos: list[str] = attrs.field(factory=list)
    gif: str | None = None

    def to_dict(self) -> dict:
        return {"label": self.label, "agent": self.agent, "visual": self.visual, "checkpoint": self.checkpoint,
                "history_frames": self.history_frames, "n_action_steps": self.n_action_steps, "device": self.device,
                **summarize(self.results), "per_episode": [r.to_dict() for r in self.results], "videos": self.videos,
                "gif": self.gif}


def run_policy_suite(agents: Sequence[tuple[object, str | None]], env: str, out: Path, *, episodes: int = 50,
                     seed: int = TEST_SEED, batch_envs: int = 8, max_steps: int = 300, visuals: Sequence[str] = ("normal",),
                     videos: int = 2, asynchronous: bool = False, progress: bool = True, history_sweep: bool = False,
                     run_info: dict | None = None) -> dict:
    """Evaluate every agent (with its checkpoint path or None) on every visual variant, on the same seeds.

    Writes ``out/eval_info.json``, ``out/videos/<run>/seed_<seed>.mp4`` (first ``videos`` episodes),
    plots and ``out/report.html``; returns the JSON content. ``run_info`` (the command and its options) leads both.
    """
    seeds = list(range(seed, seed + episodes))
    batch_envs = min(batch_envs, episodes)  # as run and recorded
    runs: list[PolicyRun] = []
    for agent, checkpoint in agents:
        for visual in visuals:
            label = agent.name if len(visuals) == 1 else f"{agent.name} [{visual}]"
            results, recordings = run_episodes(
                env, agent, seeds, batch_envs=batch_envs, max_steps=max_steps, env_options=_visual_option(visual),
                record=videos, asynchronous=asynchronous, progress=progress, description=f"{env} {label}")
            settings = {name: getattr(agent, name, None) for name in ("history_frames", "n_action_steps", "device")}
            run = PolicyRun(label, agent.name, visual, checkpoint, results, **settings)
            _write_videos(run, recordings, out)
            runs.append(run)
    info = {
        **(run_info or {}),
        "env": env, "episodes": episodes, "seeds": seeds, "max_steps": max_steps, "batch_envs": batch_envs,
        "env_options": default_env_options(env), "visuals": list(visuals),
        "protocol": "score = mean over episodes of each episode's max reward; success = the env's success flag",
        "runs": [run.to_dict() for run in runs],
    }
    (out / "eval_info.json").write_text(json.dumps(info, indent=2))
    _write_report(info, runs, out, history_sweep)
    return info


def _write_videos(run: PolicyRun, recordings: dict, out: Path) -> None:
    folder = out / "videos" / run.label.replace(" ", "_").replace("[", "").replace("]", "")
    for seed, recording in recordings.items():
        mp4, gif = write_rollout(recording.frames, recording.rewards, folder / f"seed_{seed}")
        run.videos.append(str(mp4.relative_to(out)))
        run.gif = run.gif or str(gif.relative_to(out))


def _write_report(info: dict, runs: list[PolicyRun], out: Path, history_sweep: bool) -> None:
    labels = [run.label for run in runs]
    summaries = [summarize(run.results) for run in runs]
    bar_plot(labels, {"score (mean best reward)": [s["score"] for s in summaries],
                      "success rate": [s["success_rate"] for s in summaries]}, out / "scores.png",
             ylabel="score, success rate (0-1)", ylim=(0, 1.05),
             title=f"{info['env']}: {info['episodes']} episodes per run", legend_title="error bars: standard error",
             errors={"score (mean best reward)": [s["score_sem"] for s in summaries]},
             baselines=[run.label for run in runs if run.checkpoint is None])
    line_plot({run.label: (list(range(len(run.results))), [r.score for r in run.results]) for run in runs},
              out / "per_seed.png", xlabel=f"episode (seed - {info['seeds'][0]})", ylabel="best reward (0-1)",
              title="best reward of each episode", connect=False, ylim=(-0.03, 1.03))
    report = Report(f"Policy evaluation: {info['env']}")
    report.paragraph(f"{info['episodes']} episodes on seeds {info['seeds'][0]}..{info['seeds'][-1]}, at most "
                     f"{info['max_steps']} steps each. Score = mean over episodes of each episode's best reward "
                     "(the paper's number); success rate = fraction of episodes where the env reported success.")
    report.table(["run", "checkpoint", "score (0-1)", "± standard error", "success rate", "mean steps"],
                 [[run.label, run.checkpoint or "(baseline)", s["score"], s["score_sem"], percent(s["success_rate"]),
                   f"{s['mean_steps']:.1f}"] for run, s in zip(runs, summaries)])
    if len(info["visuals"]) > 1:  # the paper's Table III layout: agents x visual variants
        agents = list(dict.fromkeys(run.agent for run in runs))
        score = {(run.agent, run.visual): s["score"] for run, s in zip(runs, summaries)}
        report.heading("Score under visual disturbances")
        report.table(["agent", *info["visuals"]], [[a, *(score[(a, v)] for v in info["visuals"])] for a in agents])
    report.image(out / "scores.png")
    report.image(out / "per_seed.png")
    if history_sweep:
        series: dict[str, tuple[list, list]] = {}
        for visual in info["visuals"]:
            points = sorted((run.history_frames, summarize(run.results)["score"]) for run in runs
                            if run.visual == visual and run.history_frames is not None)
            series[visual] = ([p[0] for p in points], [p[1] for p in points])
        line_plot(series, out / "history_sweep.png", xlabel="history frames", ylabel="score (mean best reward, 0-1)",
                  title="score vs history length", ylim=(0, 1.03))
        report.heading("History-length sweep")
        report.image(out / "history_sweep.png")
    report.heading("Rollouts (first episode of each run; click for the MP4)")
    for run in runs:
        if run.gif is not None:
            report.image(out / run.gif, caption=f"{run.label}: {episode_caption(run.results[0].to_dict())}",
                         link=run.videos[0])
    report.provenance(info)
    report.write(out / "report.html")
