"""Draw the loss curves of training runs, or of several overlaid to compare them.

One run: its training loss (all modes), each modality's loss and its validation loss (EMA weights) against
the step, into RUN/curves.png (what `uva-kit train` redraws at each validation and checkpoint). Several runs:
each one's training and validation loss in one plot, into --out. The y axis is logarithmic when every loss is
positive. Prints each run's latest losses; a run still training can be plotted at any time.

Examples:
  uva-kit plot runs/tiny
  uva-kit plot runs/tiny runs/small --out compare.png
  uva-kit plot runs/a runs/b --labels "lr 1e-4" "lr 3e-4" --out lr.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

COMPARISON_FILE = "loss_comparison.png"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs", nargs="+", metavar="RUN", help="a run folder (the --out of `uva-kit train`)")
    parser.add_argument("--out", help=f"the PNG to write (default: RUN/curves.png for one run, ./{COMPARISON_FILE} "
                                      "for several)")
    parser.add_argument("--labels", nargs="+", metavar="LABEL", help="a legend name per run (default: the folders "
                                                                     "as given)")


def run(args: argparse.Namespace) -> int:
    from uva_kit.errors import UsageError
    from uva_kit.train.curves import CURVES_FILE, loss_series, plot_runs

    if args.labels is not None and len(args.labels) != len(args.runs):
        raise UsageError(f"--labels gives {len(args.labels)} names for {len(args.runs)} runs; give one per run")
    labels = args.labels or args.runs
    default = Path(args.runs[0]) / CURVES_FILE if len(args.runs) == 1 else Path(COMPARISON_FILE)
    for run_dir, label in zip(args.runs, labels):
        print(f"{label}: {latest_losses(loss_series(run_dir, modalities=False))}")
    print(f"loss curves: {plot_runs(args.runs, args.out or default, labels)}")
    return 0


def latest_losses(series: dict) -> str:
    """'train loss 0.41 at step 200, validation loss (EMA weights) 0.52 at step 200' (the parts the run has)."""
    names = {"train": "train loss", "validation (EMA)": "validation loss (EMA weights)"}
    return ", ".join(f"{names[name]} {ys[-1]:.4g} at step {xs[-1]}" for name, (xs, ys) in series.items())
