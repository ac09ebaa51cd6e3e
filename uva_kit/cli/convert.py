"""Convert another implementation's checkpoint to uva_kit.

Writes a uva_kit model folder (config.json, model.safetensors) at --out, for uva_kit.load and
`uva-kit eval --checkpoint OUT`, and prints what was converted.

Examples:
  uva-kit convert original checkpoints/latest.ckpt --out models/uva-pusht
  uva-kit convert original libero10.ckpt --out models/uva-libero --clip clip-vit-base-patch32/
  uva-kit convert original latest.ckpt --out models/raw --weights raw --vae pretrained_models/vae/kl16.ckpt

'original': the workspace .ckpt of ShuangLI59/unified_video_action (read without unpickling code;
see docs/compatibility.md). The spec is inferred from the checkpoint's shapes unless --spec names one.
"""

from __future__ import annotations

import argparse

from uva_kit.cli.argument_types import positive_int
from uva_kit.cli.spec_arguments import add_spec_arguments

FORMATS = ("original",)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("format", choices=FORMATS, help="the checkpoint's implementation")
    parser.add_argument("checkpoint", help="the checkpoint file (e.g. checkpoints/latest.ckpt)")
    parser.add_argument("--out", required=True, help="the uva_kit model folder to write")
    parser.add_argument("--weights", choices=("ema", "raw"), default="ema",
                        help="ema: the averaged weights the original evaluates and releases (default); raw: the trained ones")
    parser.add_argument("--vae", help="MAR's kl16.ckpt: the encoder's weights file (the checkpoint's own VAE copy "
                                      "must equal it); default: the VAE weights inside the checkpoint")
    parser.add_argument("--clip", help="local folder of openai/clip-vit-base-patch32 (needed with language, e.g. Libero)")
    parser.add_argument("--num-heads", type=positive_int, help="attention heads; needed only when the width is not a MAR size")
    add_spec_arguments(parser, required=False)


def run(args: argparse.Namespace) -> int:
    from uva_kit.compat import convert_original

    report = convert_original(
        args.checkpoint, args.out, weights=args.weights, spec=args.spec, overrides=args.overrides,
        num_heads=args.num_heads, clip_path=args.clip, vae=args.vae,
    )
    print(report.summary())
    print(f"wrote {args.out}")
    return 0
