"""The training losses since the last log record, averaged.

One step trains one mode per micro-batch, so a single step's loss jumps with the mode drawn (a video
batch's loss is several times a policy batch's). A log record and the progress bar show the mean over
the window instead, and the mean of each modality's loss over the micro-batches that trained it.
"""

from __future__ import annotations

import time


class LossWindow:
    def __init__(self):
        self.clear()

    def clear(self) -> None:
        self.steps = 0
        self._loss_sum = 0.0
        self._modality_sums: dict[str, list[float]] = {}  # "loss/<modality>" -> [sum, count]
        self._started = time.perf_counter()

    def add(self, step_loss: float, micro_metrics: list[dict]) -> None:
        """One optimizer step: its loss and the metrics of its micro-batches (``compute_loss``'s)."""
        self.steps += 1
        self._loss_sum += step_loss
        for metrics in micro_metrics:
            for key, value in metrics.items():
                if key.startswith("loss/"):
                    total = self._modality_sums.setdefault(key, [0.0, 0])
                    total[0] += value
                    total[1] += 1

    @property
    def mean_loss(self) -> float:
        return self._loss_sum / max(self.steps, 1)

    def record(self, batch_size: int) -> dict:
        """The window's means: ``loss``, each ``loss/<modality>``, and ``samples_per_s`` over its wall time."""
        seconds = max(time.perf_counter() - self._started, 1e-9)
        modalities = {key: total / count for key, (total, count) in sorted(self._modality_sums.items())}
        return {"loss": self.mean_loss, **modalities, "samples_per_s": self.steps * batch_size / seconds}
