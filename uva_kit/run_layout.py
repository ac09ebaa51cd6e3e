"""Where a training run keeps its config and checkpoints: ``OUT/train_config.json``,
``OUT/checkpoints/<step>/{pretrained_model,training_state}``
and ``OUT/checkpoints/last``, a text file naming the newest complete one. Shared by the trainer, which
writes them, and ``uva_kit.load``, which finds a run's model."""

from __future__ import annotations

from pathlib import Path

from uva_kit.errors import CheckpointError

RUN_CONFIG = "train_config.json"  # the run's spec and options, written first: what makes a folder a run
CHECKPOINTS = "checkpoints"
LAST = "last"
STATE_DIR = "training_state"
MODEL_DIR = "pretrained_model"


def checkpoint_root(out: Path) -> Path:
    return Path(out) / CHECKPOINTS


def step_name(step: int) -> str:
    return f"{step:08d}"


def last_checkpoint(out: Path) -> Path | None:
    """The newest complete checkpoint of run ``out``, or None when it has none."""
    pointer = checkpoint_root(out) / LAST
    if not pointer.exists():
        return None
    target = checkpoint_root(out) / pointer.read_text().strip()
    if not (target / STATE_DIR / "state.json").exists():
        raise CheckpointError(f"{pointer} points at {target.name}, which is missing or incomplete.")
    return target
