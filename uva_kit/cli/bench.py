"""Time a policy call's stages: reference path vs fast path.

Stages: frame encoding, backbone, action head (per step count) and the full predict_actions, on a
model built from the spec with random weights, or on your trained model (--checkpoint), with random
inputs (frames, and any stream the policy is given, such as proprio; an instructed model gets an
instruction). The reference path is eager fp32 with the naive sampling loop; the fast path uses the
fused sampler (and CUDA graphs + bf16 on a GPU).
Prints a table of median milliseconds; --out DIR also writes DIR/bench.json (seconds).

Examples:
  uva-kit bench --spec pusht-small
  uva-kit bench --spec uva-b-pusht --device cuda --steps 100 --batch-size 8 --out bench/uva-b
  uva-kit bench --checkpoint runs/small --steps 100        # the run's newest checkpoint, as it would deploy
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

from uva_kit.cli.argument_types import add_device_argument, positive_int
from uva_kit.cli.spec_arguments import add_spec_arguments, spec_from_arguments
from uva_kit.errors import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_spec_arguments(parser, required=False)
    parser.add_argument("--checkpoint", help="time this model instead of --spec's: a model folder, a training checkpoint "
                                             "OUT/checkpoints/<step> or a training run OUT (its newest checkpoint)")
    add_device_argument(parser, default="cpu")
    parser.add_argument("--steps", type=positive_int, nargs="+", default=[16, 100], help="action-head sampling step counts, one row each (default: 16 100)")
    parser.add_argument("--batch-size", "--batch", dest="batch", type=positive_int, default=1,
                        help="observations per policy call (default: 1; --batch is the older name)")
    parser.add_argument("--repeats", type=positive_int, default=7, help="timed repeats per stage; the median is shown (default: 7)")
    parser.add_argument("--threads", type=positive_int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--out", type=Path, default=None, help="also write the results to OUT/bench.json (created if missing)")


def device_name(device) -> str:
    import torch

    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (CUDA {torch.version.cuda})"
    return f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} thread(s)"


def run(args: argparse.Namespace) -> int:
    import torch

    import uva_kit
    from uva_kit.benchmarking import stage_table
    from uva_kit.devices import resolve_device
    from uva_kit.eval.loading import load_model
    from uva_kit.ops import extension_status

    if (args.spec is None) == (args.checkpoint is None):
        raise UsageError("give --spec (a model with random weights) or --checkpoint (a trained model), one of them")
    if args.checkpoint is not None and args.overrides:
        raise UsageError("--set changes a spec; a checkpoint's spec is the one it was trained with")
    device = torch.device(resolve_device(args.device))
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.checkpoint is not None:
        model, directory = load_model(args.checkpoint, str(device))
        spec, timed = model.spec, f"checkpoint {directory} (spec {model.spec.name})"
    else:
        spec = spec_from_arguments(args)
        torch.manual_seed(0)
        model, timed = uva_kit.build(spec).to(device).eval(), f"spec {spec.name}"
    table = stage_table(model, batch=args.batch, steps=tuple(args.steps), repeats=args.repeats)
    fast_sampler = model.sampler.choose_path(model.modalities["action"].head.net, torch.zeros(1, 1, device=device))
    print(f"uva-kit bench: {timed}, batch {args.batch}, {device_name(device)}, torch {torch.__version__}")
    print(f"fast path: sampler '{fast_sampler}'" + (", CUDA graphs, bf16 encoder/backbone" if device.type == "cuda" else "")
          + f"; extension: {extension_status().detail}")
    print(f"{'stage':<28} {'reference ms':>13} {'fast ms':>10} {'speedup':>8}")
    for stage, times in table.items():
        reference, fast = times["reference"] * 1e3, times["fast"] * 1e3
        print(f"{stage:<28} {reference:>13.2f} {fast:>10.2f} {reference / fast:>7.2f}x")
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        record = {"spec": spec.name, "checkpoint": args.checkpoint and str(directory), "batch": args.batch,
                  "device": device_name(device), "torch": torch.__version__, "fast_sampler": fast_sampler,
                  "seconds": table}
        (args.out / "bench.json").write_text(json.dumps(record, indent=2))
        print(f"wrote {args.out / 'bench.json'}")
    return 0
