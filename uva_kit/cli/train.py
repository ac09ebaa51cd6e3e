"""Train a UVA model on a dataset, or resume a stopped run.

Writes the run folder OUT: OUT/checkpoints/<step>/pretrained_model (the model, for uva_kit.load and
`uva-kit eval --checkpoint OUT`) and .../training_state (for --resume), OUT/metrics.jsonl, OUT/curves.png
(the loss curves, redrawn at each validation and checkpoint; `uva-kit plot` compares runs) and
OUT/train_config.json. --resume OUT continues a stopped run exactly; torchrun runs several processes.

Examples:
  uva-kit train --spec pusht-tiny --data default --out runs/tiny --set training.steps=200
  uva-kit train --resume runs/tiny
  torchrun --nproc-per-node 8 -m uva_kit train --spec uva-b-pusht --data DIR --out runs/b
  torchrun --nproc-per-node 8 -m uva_kit train --spec uva-b-pusht --data DIR --out runs/b --set training.parallelism='fsdp'
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from uva_kit.cli.argument_types import add_device_argument
from uva_kit.cli.spec_arguments import add_spec_arguments

DEFAULT_DATA = "default"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_spec_arguments(parser, required=False)
    parser.add_argument("--data", help=f"a LeRobot v3 dataset folder or a zarr replay buffer; '{DEFAULT_DATA}' is the "
                                       "PushT set shipped with uva_kit (required unless --resume)")
    parser.add_argument("--out", help="the run folder to write (required unless --resume)")
    parser.add_argument("--video-data", help="an action-free video dataset folder (LeRobotWriter episodes with "
                                             "actions=None), mixed into the share training.video_data_ratio of the "
                                             "micro-batches")
    parser.add_argument("--init-from", help="a model folder, checkpoint or run to initialise from where names and "
                                            "shapes match (fine-tuning; stage 2 from stage 1)")
    parser.add_argument("--latent-cache", metavar="DIR", help="encode each training window once into DIR and train on "
                                                               "the cached latents (no augmentation)")
    parser.add_argument("--resume", metavar="OUT", help="continue the run in OUT from its last checkpoint, with the "
                                                                      "spec, data and options it was started with")
    add_device_argument(parser)
    parser.add_argument("--no-progress", action="store_true", help="a line per log record instead of the progress bar")


def split_dataset(spec, path: str, split: str, augment: bool | None = None):
    """The ``split`` ("train"/"val") of dataset ``path`` with the spec's layout, validation ratio and seed."""
    from uva_kit.data import UVADataset
    from uva_kit.modality.language import reads_instructions
    from uva_kit.modality.proprio import proprio_keys

    training = spec.training
    return UVADataset(resolve_data(path), spec.layout, split=split, val_ratio=training.val_ratio,
                      split_seed=training.seed, augment=augment, history_keys=proprio_keys(spec),
                      instructions=reads_instructions(spec))


def video_data(spec, path: str, augment: bool):
    """The action-free video dataset ``path``, all of it, with the instructions the spec's model reads (no robot
    state: training reads only its frames and instructions)."""
    from uva_kit.data import UVADataset
    from uva_kit.modality.language import reads_instructions

    return UVADataset(resolve_data(path), spec.layout, split="all", augment=augment,
                      instructions=reads_instructions(spec))


def split_summary(train, val) -> str:
    """One line on how the data was split: the episodes and windows of each split."""
    def part(dataset, name: str) -> str:
        episodes = len(dataset.episode_indices)
        return f"{episodes} {name} episode{'' if episodes == 1 else 's'} ({len(dataset):,} windows)"

    return f"data: {part(train, 'train')}, " + (part(val, "validation") if val is not None
                                                  else "no validation (training.val_ratio = 0)")


def resolve_data(path: str) -> Path:
    from uva_kit.data import default_pusht_dataset

    return default_pusht_dataset() if path == DEFAULT_DATA else Path(path)


def run(args: argparse.Namespace) -> int:
    from uva_kit.devices import resolve_device
    from uva_kit.errors import UsageError
    from uva_kit.spec import spec_from_dict
    from uva_kit.train import fit, read_run_config

    resolve_device(args.device)  # a bad --device fails before the data is read
    if args.resume:
        ignored = [flag for flag, value in (("--spec", args.spec), ("--set", args.overrides), ("--data", args.data),
                                            ("--out", args.out), ("--video-data", args.video_data),
                                            ("--init-from", args.init_from), ("--latent-cache", args.latent_cache))
                   if value]
        if ignored:
            raise UsageError(f"--resume OUT continues a run with its saved spec, data and options; drop {', '.join(ignored)}")
        config = read_run_config(Path(args.resume))
        spec = spec_from_dict(config["spec"])
        data, video, init_from, out = config["data"], config.get("video_data"), config.get("init_from"), Path(args.resume)
        latent_cache = config.get("latent_cache")
    else:
        if not (args.spec and args.data and args.out):
            raise UsageError("give --spec, --data and --out (or --resume OUT)")
        from uva_kit.spec import load_spec

        spec = load_spec(args.spec, args.overrides)
        data, video, init_from, out = args.data, args.video_data, args.init_from, Path(args.out)
        latent_cache = args.latent_cache

    from uva_kit.modality.language import reads_instructions
    from uva_kit.train.video_data import video_ratio_problem

    training = spec.training
    problem = video_ratio_problem(training.video_data_ratio, bool(video))
    if problem is not None:
        raise UsageError(problem)

    def dataset(path: str, split: str):
        return split_dataset(spec, path, split, augment=False if latent_cache else None)

    train_data, val_data = dataset(data, "train"), dataset(data, "val") if training.val_ratio > 0 else None
    video_windows = video_data(spec, video, augment=not latent_cache) if video else None
    main_process = int(os.environ.get("RANK", "0")) == 0  # under torchrun, rank 0 alone reports
    if main_process:
        print(split_summary(train_data, val_data))
        if video_windows is not None:
            episodes = len(video_windows.episode_indices)
            print(f"video: {episodes} episode{'' if episodes == 1 else 's'} ({len(video_windows):,} windows), read "
                  f"without actions by {training.video_data_ratio:.0%} of the micro-batches")
    result = fit(
        spec, train_data, out, val_dataset=val_data, video_dataset=video_windows,
        resume=bool(args.resume), init_from=init_from, device=args.device, progress=not args.no_progress,
        latent_cache=latent_cache,
        run_info={"data": _absolute(data), "video_data": _absolute(video), "init_from": _absolute(init_from),
                  "latent_cache": _absolute(latent_cache)},
    )
    if result.checkpoint is not None and main_process:
        print(finished(result, instructed=reads_instructions(spec)))
    return 0


def finished(result, instructed: bool = False) -> str:
    """What a finished run tells: its latest losses, where its model and curves are, and the commands to go on
    (``instructed``: the model reads an instruction, which the eval command then needs)."""
    from uva_kit.run_layout import MODEL_DIR
    from uva_kit.train.curves import CURVES_FILE
    from uva_kit.train.metrics import read_metrics

    train = read_metrics(result.out, "train")
    first = train[-2]["step"] + 1 if len(train) > 1 else 1
    losses = [f"train loss {train[-1]['loss']:.4f} (mean of steps {first}-{train[-1]['step']})"] if train else []
    if result.val_loss is not None:
        losses.append(f"validation loss {result.val_loss:.4f} (EMA weights)")
    return (f"done at step {result.step}: {', '.join(losses)}\n"
            f"  model:  {result.checkpoint / MODEL_DIR}\n"
            f"  curves: {result.out / CURVES_FILE} (beside another run's: uva-kit plot {result.out} OTHER_RUN)\n"
            f"  next:   uva-kit eval policy --checkpoint {result.out} --agent random still"
            + (' --instruction "TASK"' if instructed else "")
            + "  (its PushT score beside two baselines; --env for another task)")


def _absolute(path: str | None) -> str | None:
    """A path made absolute, so ``--resume`` finds it from any working directory (``default`` and None as they are)."""
    return str(Path(path).resolve()) if path is not None and path != DEFAULT_DATA else path
