"""The main job: PushT demonstrations (the shipped set, or collected once) -> a CPU-sized UVA trained
for a time budget -> 50 evaluated episodes beside two baselines -> one report.

    uva-kit quickstart --out runs/quickstart --minutes 30

Every stage writes into ``OUT`` and records its completion in ``OUT/quickstart.json``, so an
interrupted run is rerun with the same command: training resumes from its last checkpoint (for up
to ``--minutes`` more), finished stages are skipped, and ``--fresh`` starts over.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import attrs

from uva_kit.errors import UvaKitError

STATE_FILE = "quickstart.json"
REPORT_FILE = "report.html"
BASELINES = ("random", "still")
SHIPPED_DEMOS = 20  # episodes in the PushT set inside the package (uva_kit/data/default_pusht)
# Collected by default: in 30 CPU-minutes pusht-small scored 0.194 on 200 demonstrations but 0.160 on the
# shipped 20 (random actions: 0.117). Collecting takes a few minutes, once.
DEFAULT_DEMOS = 200
CLEAR_MARGIN = 0.05  # "clearly beats": at least this much higher score than each baseline

# Quickstart run settings on top of the preset (which holds the learning rate and batch size): the run
# stops on a time budget, not at a step count, and checkpoints often (an interrupt loses little).
TRAINING_OVERRIDES = (
    "training.steps=1000000",
    "training.checkpoint_every=100",
    "training.val_every=200",
    "training.log_every=10",
)


@attrs.frozen
class QuickstartOptions:
    out: Path
    minutes: float = 30.0
    episodes: int = 50
    spec: str = "pusht-small"
    data: str | None = None
    demos: int = DEFAULT_DEMOS
    batch_envs: int = 8
    max_steps: int = 300
    videos: int = 2


def _read_state(out: Path) -> dict:
    path = out / STATE_FILE
    return json.loads(path.read_text()) if path.exists() else {}


def _write_state(out: Path, state: dict) -> None:
    from uva_kit.atomic import atomic_write

    atomic_write(out / STATE_FILE, lambda temporary: Path(temporary).write_text(json.dumps(state, indent=2)))


def _demonstrations(options: QuickstartOptions) -> Path:
    """The dataset to train on: ``--data``, the shipped set (``demos == SHIPPED_DEMOS``), or ``OUT/demos``."""
    import argparse

    from uva_kit.cli import collect
    from uva_kit.cli.train import resolve_data
    from uva_kit.data import default_pusht_dataset

    if options.data is not None:
        return resolve_data(options.data)  # a folder, or 'default' for the shipped set
    if options.demos == SHIPPED_DEMOS:
        return default_pusht_dataset()
    folder = options.out / "demos"
    if not (folder / "meta" / "info.json").is_file():  # collect writes atomically: a folder there is complete
        print(f"[0/3] collecting {options.demos} PushT demonstrations with the scripted expert -> {folder}")
        parser = argparse.ArgumentParser()
        collect.add_arguments(parser)
        collect.run(parser.parse_args(["pusht", "--episodes", str(options.demos), "--out", str(folder), "--overwrite"]))
    return folder


def _train(options: QuickstartOptions, state: dict) -> Path:
    from uva_kit.cli.train import split_dataset
    from uva_kit.run_layout import MODEL_DIR, RUN_CONFIG, last_checkpoint
    from uva_kit.spec import load_spec
    from uva_kit.train import fit

    train_dir = options.out / "train"
    if state.get("trained"):
        return last_checkpoint(train_dir) / MODEL_DIR
    spec = load_spec(options.spec, list(TRAINING_OVERRIDES))
    data = _demonstrations(options)
    resume = (train_dir / RUN_CONFIG).exists()
    print(f"[1/3] training {spec.name} on {data} for up to {options.minutes:g} min in all"
          + (" (resuming)" if resume and last_checkpoint(train_dir) is not None else "") + f" -> {train_dir}")
    result = fit(
        spec, split_dataset(spec, str(data), "train"), train_dir, val_dataset=split_dataset(spec, str(data), "val"),
        resume=resume, time_limit_s=options.minutes * 60, progress=True, run_info={"data": str(data)},
    )
    _write_state(options.out, {**state, "trained": True, "steps": result.step})
    return result.checkpoint / MODEL_DIR


def _evaluate(options: QuickstartOptions, state: dict, checkpoint: Path) -> dict:
    import uva_kit
    from uva_kit.eval.agents import PolicyAgent, baseline
    from uva_kit.eval.policy_eval import run_policy_suite

    eval_dir = options.out / "eval"
    if state.get("evaluated") and (eval_dir / "eval_info.json").exists():
        return json.loads((eval_dir / "eval_info.json").read_text())
    print(f"[2/3] evaluating the policy and the {' and '.join(BASELINES)} baselines on {options.episodes} PushT "
          f"episodes (seeds 100000..) -> {eval_dir}")
    shutil.rmtree(eval_dir, ignore_errors=True)
    eval_dir.mkdir(parents=True)
    agents = [(PolicyAgent(uva_kit.load(checkpoint)), str(checkpoint))] + [(baseline(name), None) for name in BASELINES]
    info = run_policy_suite(agents, "pusht", eval_dir, episodes=options.episodes, batch_envs=options.batch_envs,
                            max_steps=options.max_steps, videos=options.videos)
    _write_state(options.out, {**_read_state(options.out), "evaluated": True})
    return info


def _verdict(runs: list[dict]) -> tuple[bool, str]:
    policy, baselines = runs[0], runs[1:]
    beats = all(policy["score"] >= b["score"] + CLEAR_MARGIN for b in baselines)
    others = ", ".join(f"{b['label']} {b['score']:.3f}" for b in baselines)
    word = "clearly beats" if beats else f"does NOT clearly beat (by {CLEAR_MARGIN} or more)"
    return beats, f"The trained policy scores {policy['score']:.3f} and {word} both baselines on the same seeds ({others})."


def _write_report(options: QuickstartOptions, info: dict, checkpoint: Path) -> tuple[Path, bool, str]:
    import uva_kit
    from uva_kit.cli.train import split_dataset
    from uva_kit.eval.observation_use import observation_use
    from uva_kit.eval.report import Report, percent
    from uva_kit.eval.scoring import episode_caption
    from uva_kit.eval.video_eval import evaluate_video
    from uva_kit.train import read_run_config
    from uva_kit.train.curves import plot_runs

    print(f"[3/3] writing the report -> {options.out / REPORT_FILE}")
    train_dir, out = options.out / "train", options.out
    plot_runs([train_dir], out / "loss.png")

    model = uva_kit.load(checkpoint)
    video_dir = out / "video"
    video_dir.mkdir(exist_ok=True)
    data = read_run_config(train_dir)["data"]
    held_out = split_dataset(model.spec, data, "val")
    video = evaluate_video(model, held_out, video_dir, samples=4, modes=("video",), pictures=4, progress=False)
    looking = observation_use(model, held_out)

    beats, verdict = _verdict(info["runs"])
    report = Report("uva_kit quickstart: PushT on a CPU")
    report.paragraph(verdict)
    report.table(["agent", "score (mean best reward, 0-1)", "success rate", "episodes"],
                 [[run["label"], run["score"], percent(run["success_rate"]), run["episodes"]] for run in info["runs"]])
    report.image(out / "eval" / "scores.png")
    report.image(out / "eval" / "per_seed.png")
    report.paragraph(f"Model: {model.spec.name} trained on {data} for {_read_state(out).get('steps', '?')} steps "
                     f"(budget {options.minutes:g} min); checkpoint {checkpoint}. Evaluation: {info['episodes']} PushT "
                     f"episodes on seeds {info['seeds'][0]}..{info['seeds'][-1]}, at most {info['max_steps']} steps each, "
                     f"{info['batch_envs']} side by side (eval/eval_info.json holds every episode). Deviations from the "
                     "paper: " + "; ".join(model.spec.deviations) + ".")
    report.heading("Training")
    report.image(out / "loss.png")
    report.paragraph(
        f"Does the policy use what it sees? Its action loss on {looking['windows']} held-out windows is "
        f"{looking['action_loss']:.4f} with their own history frames and {looking['action_loss_other_frames']:.4f} "
        "with another window's frames (same actions and noise); equal losses would mean it ignores the frames."
    )
    report.heading("Rollouts (first episodes; click for the MP4)")
    for run in info["runs"]:
        if run.get("gif"):  # an older eval_info.json (a resumed quickstart) lacks it
            caption = f"{run['label']}: {episode_caption(run['per_episode'][0])}"
            report.image(out / "eval" / run["gif"], caption=caption, link=Path("eval") / run["videos"][0])
    report.heading("Predicted vs real future frames (held-out windows; rows: real, predicted)")
    for result in video["results"]:
        report.image(video_dir / result["grid_png"], caption=f"PSNR {result['psnr']:.1f} dB, SSIM {result['ssim']:.3f}")
    path = report.write(out / REPORT_FILE)
    summary = {"verdict": verdict, "beats_baselines": beats,
               "runs": [{k: run[k] for k in ("label", "score", "success_rate", "episodes")} for run in info["runs"]],
               "video": [{k: r[k] for k in ("mode", "psnr", "ssim")} for r in video["results"]],
               "observation_use": looking,
               "checkpoint": str(checkpoint), "minutes": options.minutes}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return path, beats, verdict


def run_quickstart(options: QuickstartOptions, fresh: bool = False) -> dict:
    """Run (or continue) the quickstart in ``options.out``; returns the summary."""
    if options.episodes < 1 or not options.minutes > 0 or options.demos < 1:
        raise UvaKitError("--episodes and --demos must be at least 1 and --minutes positive")
    if fresh:
        shutil.rmtree(options.out, ignore_errors=True)
    options.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    state = _read_state(options.out)
    checkpoint = _train(options, state)
    info = _evaluate(options, _read_state(options.out), checkpoint)
    path, beats, verdict = _write_report(options, info, checkpoint)
    print(f"\n{verdict}\nReport: {path}  ({(time.perf_counter() - started) / 60:.1f} min)")
    return json.loads((options.out / "summary.json").read_text())
