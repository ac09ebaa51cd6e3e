"""The main job: train a CPU-sized UVA on PushT demonstrations, evaluate it beside baselines, write a report.

Rerun the same command after an interruption: finished stages are skipped and training resumes.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from uva_kit.quickstart import DEFAULT_DEMOS, SHIPPED_DEMOS

    parser.add_argument("--out", default="runs/quickstart", help="output folder (default: runs/quickstart)")
    parser.add_argument("--minutes", type=float, default=30.0, help="training time budget (default: 30)")
    parser.add_argument("--episodes", type=int, default=50, help="evaluation episodes per agent (default: 50)")
    parser.add_argument("--spec", default="pusht-small", help="the model preset or spec file (default: pusht-small)")
    parser.add_argument("--demos", type=int, default=DEFAULT_DEMOS,
                        help=f"PushT demonstrations to train on (default {DEFAULT_DEMOS}), collected once with the scripted "
                             f"expert into OUT/demos (about 1 s each on 2 cores); {SHIPPED_DEMOS} uses the set shipped "
                             "with uva_kit instead (no collection)")
    parser.add_argument("--data", help="train on this dataset folder (from `uva-kit collect`, or 'default' for the "
                                       "shipped set) instead; overrides --demos")
    parser.add_argument("--max-steps", type=int, default=300, help="steps per evaluation episode (default: 300)")
    parser.add_argument("--fresh", action="store_true", help="delete OUT and start over")


def run(args: argparse.Namespace) -> int:
    from uva_kit.quickstart import QuickstartOptions, run_quickstart

    options = QuickstartOptions(Path(args.out), args.minutes, args.episodes, args.spec, args.data, args.demos,
                                max_steps=args.max_steps)
    run_quickstart(options, fresh=args.fresh)
    return 0
