"""``python tests/train/run_fit.py OUT STEPS [--resume] [--set k=v ...]``: train pusht-tiny on synthetic windows.

Used by the resume and torchrun tests as a real, separate process.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from synthetic import SyntheticWindows  # noqa: E402

from uva_kit import load_spec  # noqa: E402
from uva_kit.train import fit  # noqa: E402

BASE = ["training.batch_size=8", "training.warmup_steps=2", "training.lr=1e-3", "training.log_every=1",
        "training.checkpoint_every=2", "training.keep_last=10"]

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("steps", type=int)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args()
    spec = load_spec("pusht-tiny", [*BASE, f"training.steps={args.steps}", *args.overrides])
    fit(spec, SyntheticWindows(16), args.out, resume=args.resume, progress=False)
