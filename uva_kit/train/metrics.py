"""Metrics: always a JSONL log; TensorBoard too when installed, W&B when installed and WANDB_PROJECT is set."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path


class MetricsLog:
    FILE = "metrics.jsonl"

    def __init__(self, out: Path, enabled: bool = True):
        self.enabled = enabled
        self.path = Path(out) / self.FILE
        self._tensorboard = None
        self._wandb = None
        if not enabled:
            return
        if importlib.util.find_spec("tensorboard") is not None:
            from torch.utils.tensorboard import SummaryWriter

            self._tensorboard = SummaryWriter(str(Path(out) / "tensorboard"))
        if importlib.util.find_spec("wandb") is not None and os.environ.get("WANDB_PROJECT"):
            import wandb

            self._wandb = wandb.init(project=os.environ["WANDB_PROJECT"], dir=str(out), resume="allow")

    def write(self, step: int, split: str, values: dict) -> None:
        if not self.enabled:
            return
        record = {"step": step, "split": split, **values}
        with self.path.open("a") as handle:
            handle.write(json.dumps(record) + "\n")
        numeric = {k: v for k, v in values.items() if isinstance(v, (int, float))}
        if self._tensorboard is not None:
            for key, value in numeric.items():
                self._tensorboard.add_scalar(f"{split}/{key}", value, step)
        if self._wandb is not None:
            self._wandb.log({f"{split}/{k}": v for k, v in numeric.items()}, step=step)

    def drop_records_after(self, step: int) -> None:
        """A killed run may have logged past its last checkpoint, or cut its last line short; the resumed run
        rewrites those steps."""
        kept = [line for line in _complete_lines(self.path) if json.loads(line)["step"] <= step]
        if self.path.exists():
            self.path.write_text("".join(line + "\n" for line in kept))

    def close(self) -> None:
        if self._tensorboard is not None:
            self._tensorboard.close()
        if self._wandb is not None:
            self._wandb.finish()


def read_metrics(out: Path, split: str | None = None) -> list[dict]:
    """The records of a run's metrics.jsonl (of one split: "train", "val" or "eval"); a last line still being
    written (no newline yet: the run is training) is left out."""
    records = [json.loads(line) for line in _complete_lines(Path(out) / MetricsLog.FILE)]
    return [r for r in records if split is None or r["split"] == split]


def _complete_lines(path: Path) -> list[str]:
    """The non-empty lines of ``path`` that end in a newline (none when it is missing): a last line without one
    is still being written, or was cut short by a kill."""
    if not path.exists():
        return []
    return [line for line in path.read_text().rpartition("\n")[0].splitlines() if line.strip()]
