"""Train a small UVA on PushT, evaluate it, write a report.

The main job, on CPU: collects PushT demonstrations into OUT/demos (unless --data or --demos 20), trains
--spec for --minutes into OUT/train, evaluates it and the random and still baselines for --episodes
each into OUT/eval, and writes OUT/report.html. Rerun the same command after an interruption: finished
stages (recorded in OUT/quickstart.json) are skipped and training resumes.

Examples:
  uva-kit quickstart
  uva-kit quickstart --out runs/qs --minutes 10 --data default --episodes 20
"""

from __future__ import annotations

import argparse
from pathlib import Path

from uva_kit.cli.argument_types import positive_float, positive_int


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from uva_kit.quickstart import DEFAULT_DEMOS, SHIPPED_DEMOS

    parser.add_argument("--out", default="runs/quickstart", help="output folder (default: %(default)s)")
    parser.add_argument("--minutes", type=positive_float, default=30.0, help="training time budget in minutes (default: %(default)s)")
    parser.add_argument("--episodes", type=positive_int, default=50, help="evaluation episodes per agent (default: %(default)s)")
    parser.add_argument("--spec", default="pusht-small", help="the model preset or spec file (default: pusht-small)")
    parser.add_argument("--demos", type=positive_int, default=DEFAULT_DEMOS,
                        help=f"PushT demonstrations to train on (default: {DEFAULT_DEMOS}), collected once with the scripted "
                             f"expert into OUT/demos (about 1 s each on 2 cores); {SHIPPED_DEMOS} uses the set shipped "
                             "with uva_kit instead (no collection)")
    parser.add_argument("--data", help="train on this dataset folder (from `uva-kit collect`, or 'default' for the "
                                       "shipped set) instead; overrides --demos")
    parser.add_argument("--max-steps", type=positive_int, default=300,
                        help="environment steps per evaluation episode at most (default: %(default)s)")
    parser.add_argument("--fresh", action="store_true", help="delete OUT and start over (default: resume OUT)")


def run(args: argparse.Namespace) -> int:
    from uva_kit.quickstart import QuickstartOptions, run_quickstart

    options = QuickstartOptions(Path(args.out), args.minutes, args.episodes, args.spec, args.data, args.demos,
                                max_steps=args.max_steps)
    run_quickstart(options, fresh=args.fresh)
    return 0
