"""Evaluate a model: policy, video, inverse dynamics, planning.

Every KIND writes eval_info.json (the numbers and the command that repeats them), plots, videos and a
self-contained report.html to --out (default: eval/<kind>-<date-time>); `uva-kit eval KIND --help` lists
its options.

Examples:
  uva-kit eval policy --checkpoint runs/tiny --env pusht --episodes 50      # the run's newest checkpoint
  uva-kit eval policy --agent random still --env pusht --episodes 50          # baselines on the same seeds
  uva-kit eval policy --checkpoint C --visual normal bg-color bg-object goal-color   # paper Table III
  uva-kit eval policy --checkpoint H2 H4 H8 --env pusht-m --history-sweep             # paper Fig. 6
  uva-kit eval policy --checkpoint C --env my_robot.sim:make_env --episodes 20          # your own gymnasium env
  uva-kit eval video --checkpoint C --data default --num-iter 1 8 --i3d i3d_kinetics400.safetensors
  uva-kit eval inverse --checkpoint C --data default
  uva-kit eval planning --checkpoint C --episodes 10 --candidates 100
"""

from __future__ import annotations

import argparse
import shlex
import time
from pathlib import Path

from uva_kit.cli.argument_types import add_device_argument, non_negative_int, positive_int
from uva_kit.envs import ENVIRONMENTS, unknown_environment
from uva_kit.errors import UsageError, UvaKitError

BASELINE_NAMES = ("random", "still")
VISUALS = ("normal", "bg-color", "bg-object", "goal-color")  # uva_kit.envs.pusht.VISUAL_VARIANTS (no pygame import here)
PRESENTATION_OPTIONS = ("out", "overwrite", "no_progress")  # where and how results are shown, not what they are
OUTPUTS = "Writes eval_info.json, plots, videos and report.html to --out."
CHECKPOINT_FORMS = "also a training checkpoint OUT/checkpoints/<step> or a training run OUT (its newest checkpoint)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    kinds = parser.add_subparsers(dest="kind", metavar="KIND", required=True)
    for name, adder, summary in (
        ("policy", _policy_arguments, "closed-loop episodes: score (mean best reward) and success rate"),
        ("video", _video_arguments, "PSNR, SSIM and FVD of generate_video and forward_dynamics on held-out windows"),
        ("inverse", _inverse_arguments, "L2 error of inverse_dynamics actions on held-out windows"),
        ("planning", _planning_arguments, "two-block: choose among base-policy samples with forward_dynamics"),
    ):
        sub = kinds.add_parser(name, help=summary, description=f"{summary}. {OUTPUTS}")
        adder(sub)
        sub.set_defaults(parser=sub)
        sub.add_argument("--out", help="results folder (default: eval/<kind>-<date-time>)")
        sub.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
        add_device_argument(sub)
        sub.add_argument("--no-progress", action="store_true", help="no progress bars (for logs)")


def _policy_arguments(parser) -> None:
    parser.add_argument("--checkpoint", nargs="+", default=[], help=f"model folder(s); {CHECKPOINT_FORMS}")
    parser.add_argument("--agent", nargs="+", default=[], choices=BASELINE_NAMES, help="baseline agent(s) run on the same seeds")
    parser.add_argument("--env", default="pusht", type=environment, metavar="ENV",
                        help=f"{', '.join(ENVIRONMENTS)} (default: %(default)s), or your own as MODULE:CALLABLE, a callable "
                             "of an importable module returning a gymnasium.Env whose observations hold 'pixels' "
                             "(H, W, 3) uint8 and the keys the model's policy reads (model.policy_observations) and "
                             "whose actions are in the units of the training data; see docs/evaluation.md")
    parser.add_argument("--episodes", type=positive_int, default=50, help="episodes per run (default: %(default)s, as the paper)")
    parser.add_argument("--seed", type=non_negative_int, default=100000,
                        help="seed of the first episode (default: %(default)s, the test seeds)")
    parser.add_argument("--max-steps", type=positive_int, default=300, help="environment steps per episode at most (default: %(default)s)")
    parser.add_argument("--batch-envs", type=positive_int, default=8,
                        help="environments run side by side; each episode's noise is its own, so only rounding "
                             "depends on it (default: %(default)s, as the quickstart and evaluate_policy)")
    parser.add_argument("--n-action-steps", type=positive_int, default=8,
                        help="actions executed per predicted chunk (default: %(default)s)")
    parser.add_argument("--instruction", metavar="TEXT",
                        help="the task given in every episode to a checkpoint with the language modality (required for one)")
    parser.add_argument("--visual", nargs="+", default=["normal"], choices=VISUALS,
                        help="visual variant(s), one run each (paper Table III; pusht and pusht-m; default: normal)")
    parser.add_argument("--videos", type=non_negative_int, default=2, help="MP4s of the first N episodes of each run (default: %(default)s)")
    parser.add_argument("--history-sweep", action="store_true",
                        help="plot score against each checkpoint's history length (paper Fig. 6; give 2+ checkpoints)")
    parser.add_argument("--async-envs", action="store_true", help="one process per environment (default: all in this one)")


def environment(text: str) -> str:
    """A name of ``uva_kit.envs.ENVIRONMENTS`` or MODULE:CALLABLE (imported when the command runs)."""
    problem = unknown_environment(text)
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return text


def _data_arguments(parser) -> None:
    parser.add_argument("--checkpoint", required=True, help=f"model folder; {CHECKPOINT_FORMS}")
    parser.add_argument("--data", default="default",
                        help="dataset folder or zarr (default: default, the shipped PushT set)")
    parser.add_argument("--split", default="val", choices=["val", "all"],
                        help="val: the episodes the checkpoint's training held out (training.val_ratio/seed); "
                             "all: every episode (default: %(default)s)")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="seed of the model's sampling (default: %(default)s)")


def _video_arguments(parser) -> None:
    _data_arguments(parser)
    parser.add_argument("--samples", type=positive_int, default=32, help="held-out windows, spread evenly (default: %(default)s)")
    parser.add_argument("--num-iter", type=positive_int, nargs="+", default=[1],
                        help="MAR passes, one run each; the paper compares 1 and 8 (default: 1)")
    parser.add_argument("--modes", nargs="+", default=["video", "forward_dynamics"], choices=["video", "forward_dynamics"],
                        help="video: generate_video (past frames alone); forward_dynamics: given the recorded actions too "
                             "(default: both)")
    parser.add_argument("--i3d", help="converted I3D weights (safetensors; default $UVA_KIT_I3D_WEIGHTS); see docs/evaluation.md")
    parser.add_argument("--no-fvd", action="store_true", help="skip FVD (PSNR and SSIM only)")
    parser.add_argument("--batch-size", type=positive_int, default=8, help="windows per model call (default: %(default)s)")
    parser.add_argument("--pictures", type=non_negative_int, default=4, help="windows shown in the grids and videos (default: %(default)s)")


def _inverse_arguments(parser) -> None:
    _data_arguments(parser)
    parser.add_argument("--samples", type=positive_int, default=256, help="held-out windows, spread evenly (default: %(default)s)")
    parser.add_argument("--batch-size", type=positive_int, default=16, help="windows per model call (default: %(default)s)")


def _planning_arguments(parser) -> None:
    parser.add_argument("--checkpoint", required=True, help=f"the UVA model used as forward-dynamics model; {CHECKPOINT_FORMS}")
    parser.add_argument("--base-policy", help="model folder sampling the candidates (default: --checkpoint's policy)")
    parser.add_argument("--episodes", type=positive_int, default=10, help="episodes per selector (default: %(default)s)")
    parser.add_argument("--seed", type=non_negative_int, default=100000, help="seed of the first episode (default: %(default)s)")
    parser.add_argument("--candidates", type=positive_int, default=100,
                        help="action chunks sampled per replanning (default: %(default)s)")
    parser.add_argument("--execute-steps", type=positive_int, default=6,
                        help="actions executed before replanning (default: %(default)s)")
    parser.add_argument("--max-steps", type=positive_int, default=300, help="environment steps per episode at most (default: %(default)s)")
    parser.add_argument("--batch-envs", type=positive_int, default=4, help="environments run side by side (default: %(default)s)")
    parser.add_argument("--num-iter", type=positive_int, default=1, help="MAR passes of forward_dynamics (default: %(default)s)")
    parser.add_argument("--selectors", nargs="+", default=["base", "uva", "simulator"], choices=["base", "uva", "simulator"],
                        help="how the chunk is chosen, one run each: base: one sample, no choice; uva: the best of "
                             "--candidates by forward_dynamics; simulator: the best in the simulator (default: all)")
    parser.add_argument("--videos", type=non_negative_int, default=1, help="MP4s of the first N episodes per selector (default: %(default)s)")


def run(args: argparse.Namespace) -> int:
    from uva_kit.atomic import atomic_directory

    out = Path(args.out or f"eval/{args.kind}-{time.strftime('%Y%m%d-%H%M%S')}")
    runner = {"policy": _run_policy, "video": _run_video, "inverse": _run_inverse, "planning": _run_planning}[args.kind]
    prepared = runner(args)  # loads and checks everything before the output folder is created
    with atomic_directory(out, overwrite=args.overwrite) as folder:
        summary = prepared(folder, _run_info(args))
    print(summary)
    print(f"results in {out}/ (report: {out / 'report.html'}, data: {out / 'eval_info.json'})")
    return 0


def _run_info(args: argparse.Namespace) -> dict:
    """The command and its options (model folders as used), for eval_info.json and the report: enough to repeat it."""
    options = {name: value for name, value in vars(args).items()
               if name not in (*PRESENTATION_OPTIONS, "command", "kind", "run", "parser")}
    command = f"uva-kit eval {args.kind}"
    return {"command": command, "command_line": command_line(command, options), "options": options}


def command_line(command: str, options: dict) -> str:
    """``command`` with ``options`` (argparse names) as flags: lists spread, True as a bare flag, False and None left out."""
    words = [command]
    for name, value in options.items():
        if value is None or value is False or value == []:
            continue
        words.append(f"--{name.replace('_', '-')}")
        if value is not True:
            words += [shlex.quote(str(v)) for v in (value if isinstance(value, list) else [value])]
    return " ".join(words)


def _load(args: argparse.Namespace, option: str):
    """The model that option ``option`` names; the option then holds the model folder used (as recorded)."""
    from uva_kit.eval.loading import load_model

    model, directory = load_model(getattr(args, option), args.device)
    setattr(args, option, str(directory))
    return model


def _run_policy(args):
    from uva_kit.eval.agents import PolicyAgent, baseline
    from uva_kit.eval.env_check import check_env_for_policy
    from uva_kit.eval.loading import load_model
    from uva_kit.eval.policy_eval import run_policy_suite

    if not args.checkpoint and not args.agent:
        raise UsageError("give --checkpoint C [C ...] and/or --agent random|still")
    if args.history_sweep and len(args.checkpoint) < 2:
        raise UsageError("--history-sweep compares checkpoints trained with different history lengths; give 2 or more")
    if args.env not in ("pusht", "pusht-m") and args.visual != ["normal"]:
        raise UsageError("--visual variants exist for pusht and pusht-m only")
    if args.env not in ENVIRONMENTS and args.agent:
        raise UsageError("--agent baselines act in the 512 x 512 workspace of the built-in envs; with your own --env "
                         "give --checkpoint only")
    agents, instructed_any = [], False
    for i, path in enumerate(args.checkpoint):
        model, directory = load_model(path, args.device)
        args.checkpoint[i] = str(directory)  # eval_info.json records the model folders used
        check_env_for_policy(args.env, model)
        instructed = model.prefix_modality is not None
        instructed_any |= instructed
        if instructed and args.instruction is None:
            raise UsageError(f"{directory} reads an instruction (its spec has a language modality): give --instruction TEXT")
        name = f"uva-{i + 1}" if len(args.checkpoint) > 1 else "uva"
        agents.append((PolicyAgent(model, name=name, n_action_steps=args.n_action_steps,
                                   instruction=args.instruction if instructed else None), str(directory)))
    if args.instruction is not None and not instructed_any:
        raise UsageError("--instruction is for a checkpoint with a language modality; no --checkpoint has one")
    agents += [(baseline(name), None) for name in args.agent]

    def evaluate(folder: Path, run_info: dict) -> str:
        info = run_policy_suite(agents, args.env, folder, episodes=args.episodes, seed=args.seed,
                                batch_envs=args.batch_envs, max_steps=args.max_steps,
                                visuals=args.visual, videos=args.videos, asynchronous=args.async_envs,
                                progress=not args.no_progress, history_sweep=args.history_sweep,
                                run_info=run_info)
        return "\n".join(f"{r['label']}: score {r['score']:.3f}, success {r['success_rate']:.0%} "
                         f"({r['episodes']} episodes)" for r in info["runs"])

    return evaluate


def _held_out(args, model):
    """The ``--split`` windows of ``--data``, split as the model's training split them (never augmented)."""
    from uva_kit.cli.train import split_dataset

    dataset = split_dataset(model.spec, args.data, args.split)
    if len(dataset) == 0:
        raise UvaKitError(f"{args.data}: the '{args.split}' split has no windows (too few episodes for a held-out "
                          "share); evaluate on every window with --split all")
    return dataset


def _run_video(args):
    from uva_kit.eval.i3d import load_i3d
    from uva_kit.eval.video_eval import evaluate_video

    model = _load(args, "checkpoint")
    i3d = None if args.no_fvd else load_i3d(args.i3d).to(model.device)
    dataset = _held_out(args, model)

    def evaluate(folder: Path, run_info: dict) -> str:
        info = evaluate_video(model, dataset, folder, samples=args.samples, num_iters=args.num_iter, modes=args.modes,
                              i3d=i3d, batch_size=args.batch_size, pictures=args.pictures, seed=args.seed,
                              progress=not args.no_progress, run_info=run_info)
        return "\n".join(f"{r['mode']} num_iter {r['num_iter']}: PSNR {r['psnr']:.2f} dB, SSIM {r['ssim']:.3f}"
                         + ("" if r["fvd"] is None else f", FVD {r['fvd']:.1f}") for r in info["results"])

    return evaluate


def _run_inverse(args):
    from uva_kit.eval.inverse_eval import evaluate_inverse

    model = _load(args, "checkpoint")
    dataset = _held_out(args, model)

    def evaluate(folder: Path, run_info: dict) -> str:
        info = evaluate_inverse(model, dataset, folder, samples=args.samples, batch_size=args.batch_size, seed=args.seed,
                                progress=not args.no_progress, run_info=run_info)
        error = info["l2_env_units"]
        return f"inverse dynamics: L2 error mean {error['mean']:.2f}, median {error['median']:.2f} (env units)"

    return evaluate


def _run_planning(args):
    from uva_kit.eval.planning import evaluate_planning

    forward_model = _load(args, "checkpoint")
    base_model = _load(args, "base_policy") if args.base_policy else forward_model
    if any(model.prefix_modality is not None for model in (forward_model, base_model)):
        raise UsageError("eval planning gives no instruction: its --checkpoint and --base-policy must have no language "
                         "modality")
    if base_model.spec.layout != forward_model.spec.layout:
        raise UvaKitError("--base-policy and --checkpoint must share the time layout (history frames, stride, chunk)")

    def evaluate(folder: Path, run_info: dict) -> str:
        info = evaluate_planning(base_model, forward_model, folder, episodes=args.episodes, seed=args.seed,
                                 selectors=args.selectors, candidates=args.candidates, execute_steps=args.execute_steps,
                                 max_steps=args.max_steps, batch_envs=args.batch_envs, num_iter=args.num_iter,
                                 videos=args.videos, progress=not args.no_progress, run_info=run_info)
        return "\n".join(f"{r['selector']}: success {r['success_rate']:.0%}, score {r['score']:.3f}" for r in info["runs"])

    return evaluate
