"""Train a small conv_vae frame encoder (for encoder.checkpoint).

    uva-kit train-vae --frames frames.npz --out runs/vae --minutes 10

The frames are a uint8 (N, H, W, 3) array in an .npz (key 'frames', optional 'episode_index') or
.npy file. The last whole episodes (--held-out of the frames) are held out for the PSNR. The encoder
options come from --spec's encoder (which must be a conv_vae) or the conv_vae defaults, with --set
overrides (e.g. --set encoder.z_channels=16). Writes OUT/model.safetensors and OUT/config.json (the
encoder spec and the training report); point a spec at it with --set encoder.checkpoint=OUT.
"""

from __future__ import annotations

import argparse
import json
import warnings

from uva_kit.cli.argument_types import (
    non_negative_float,
    non_negative_int,
    open_fraction,
    positive_float,
    positive_int,
)
from uva_kit.cli.spec_arguments import add_spec_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--frames", required=True, help="an .npz/.npy file of uint8 (N, H, W, 3) frames")
    parser.add_argument("--out", required=True, help="the encoder folder to write")
    add_spec_arguments(parser, required=False, spec_help="a preset or spec file whose encoder is a conv_vae "
                                                         "(default: the conv_vae defaults)")
    parser.add_argument("--minutes", type=positive_float, default=10.0, help="training time budget in minutes (default: %(default)s)")
    parser.add_argument("--cpu-time", action="store_true",
                        help="count --minutes in this process's CPU time (on machines shared with other jobs)")
    parser.add_argument("--threads", type=positive_int, default=1,
                        help="torch CPU threads (default: 1; the small VAE gains little from more, and more threads "
                             "than free cores slow training about tenfold on a busy machine)")
    parser.add_argument("--steps", type=positive_int, help="also stop after this many optimizer steps (whichever budget ends "
                                                  "first; default: --minutes alone)")
    parser.add_argument("--batch-size", type=positive_int, default=16, help="frames per optimizer step (default: %(default)s)")
    parser.add_argument("--learning-rate", type=positive_float, default=2e-3, help="Adam learning rate (default: %(default)s)")
    parser.add_argument("--kl-weight", type=non_negative_float, default=1e-4, help="weight of the KL term of the loss (default: %(default)s)")
    parser.add_argument("--held-out", type=open_fraction, default=0.1,
                        help="fraction of the frames (whole last episodes) held out for the PSNR (default: %(default)s)")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="seed of the weights and batches (default: %(default)s)")


def _encoder_spec(args: argparse.Namespace):
    from uva_kit.errors import SpecError
    from uva_kit.spec import UVASpec, apply_overrides, from_dict, load_spec

    if args.spec:
        spec = load_spec(args.spec, args.overrides)
    else:
        spec = from_dict(UVASpec, apply_overrides({"encoder": {"type": "conv_vae"}}, args.overrides))
    if spec.encoder.type != "conv_vae":
        raise SpecError("encoder.type", f"train-vae trains a conv_vae encoder, but the spec's encoder is '{spec.encoder.type}'.")
    return spec.encoder


def run(args: argparse.Namespace) -> int:
    import attrs
    import torch

    from uva_kit.encoder.checkpoint import RandomWeightsWarning
    from uva_kit.encoder.conv_vae import ConvVAEEncoder, save_conv_vae
    from uva_kit.encoder.frame_sources import read_frames
    from uva_kit.encoder.vae_training import train_vae

    torch.set_num_threads(args.threads)
    encoder_spec = _encoder_spec(args)
    train, held_out = read_frames(args.frames).held_out_split(args.held_out)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RandomWeightsWarning)  # training starts from random weights on purpose
        encoder = ConvVAEEncoder(encoder_spec)
    print(f"training conv_vae on {len(train.frames)} frames ({len(held_out.frames)} held out) "
          f"for at most {args.minutes} minutes" + (f" / {args.steps} steps" if args.steps else ""))
    report = train_vae(
        encoder, train.frames, held_out.frames, steps=args.steps, minutes=args.minutes, batch_size=args.batch_size,
        learning_rate=args.learning_rate, kl_weight=args.kl_weight, seed=args.seed, cpu_time=args.cpu_time,
    )
    summary = {k: v for k, v in attrs.asdict(report).items() if k != "losses"}
    summary |= {"final_loss": report.losses[-1], "clock": "cpu" if args.cpu_time else "wall",
                "threads": torch.get_num_threads(), "frames": args.frames, "train_frames": len(train.frames),
                "held_out_frames": len(held_out.frames)}
    out = save_conv_vae(encoder, args.out, summary)
    print(json.dumps(summary, indent=2))
    print(f"held-out PSNR {report.held_out_psnr:.2f} dB after {report.steps} steps ({report.seconds / 60:.1f} {'CPU ' if args.cpu_time else ''}min)")
    print(f"saved to {out}; use it with --set encoder.checkpoint={out}")
    return 0
