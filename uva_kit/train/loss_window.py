"""The training losses since the last log record, averaged.

One step trains one mode per micro-batch, so a single step's loss jumps with the mode drawn (a video
batch's loss is several times a policy batch's). A log record and the progress bar show the mean over
the window instead, and the mean of each modality's loss over the micro-batches that trained it.

The losses may be tensors on the training device: they stay there until the window is read (a record,
or a check for a non-finite loss), which brings them all to the host in one transfer. Reading a value
waits for the device to finish its queued work, so the loop reads only at log, validation and checkpoint
steps, never every step. The sums are those of the values read one by one, so the numbers do not depend
on when they are read.
"""

from __future__ import annotations

import math
import time

import torch


class LossWindow:
    """``video_data``: the run mixes in action-free video, and each record says which share of its micro-batches
    read it (``compute_loss`` metrics marked ``"source": "video"``)."""

    def __init__(self, video_data: bool = False):
        self.video_data = video_data
        self.clear()

    def clear(self) -> None:
        self.steps = 0
        self._unread: list[tuple[int, torch.Tensor | float, list[dict]]] = []  # (step, loss, micro-batch metrics)
        self._loss_sum = 0.0
        self._modality_sums: dict[str, list[float]] = {}  # "loss/<modality>" -> [sum, count]
        self._sources: list[str | None] = []  # each micro-batch's data source
        self._non_finite: tuple[int, float] | None = None
        self._started = time.perf_counter()

    def add(self, step: int, step_loss: torch.Tensor | float, micro_metrics: list[dict]) -> None:
        """One optimizer step: its number, its loss and the metrics of its micro-batches (``compute_loss``'s)."""
        self.steps += 1
        self._unread.append((step, step_loss, micro_metrics))
        self._sources += [metrics.get("source") for metrics in micro_metrics]

    def first_non_finite(self) -> tuple[int, float] | None:
        """The step and loss of the window's first non-finite step loss (None while all are finite)."""
        self._read()
        return self._non_finite

    def record(self, batch_size: int) -> dict:
        """The window's means: ``loss``, each ``loss/<modality>``, ``video_data`` (the share of micro-batches of
        action-free video, when mixed in) and ``samples_per_s`` over its wall time."""
        self._read()
        seconds = max(time.perf_counter() - self._started, 1e-9)
        modalities = {key: total / count for key, (total, count) in sorted(self._modality_sums.items())}
        record = {"loss": self._loss_sum / max(self.steps, 1), **modalities}
        if self.video_data:
            record["video_data"] = self._sources.count("video") / max(len(self._sources), 1)
        return {**record, "samples_per_s": self.steps * batch_size / seconds}

    def _read(self) -> None:
        """Bring the unread values to the host (one transfer) and add them to the sums, in the order they came."""
        values = [loss for _, loss, _ in self._unread]
        values += [value for _, _, micro in self._unread for metrics in micro
                   for key, value in metrics.items() if key.startswith("loss/")]
        if not values:
            return
        floats = iter(torch.stack([torch.as_tensor(v, dtype=torch.float64) for v in values]).tolist())
        losses = [next(floats) for _ in self._unread]
        for (step, _, _), loss in zip(self._unread, losses):
            self._loss_sum += loss
            if self._non_finite is None and not math.isfinite(loss):
                self._non_finite = (step, loss)
        for _, _, micro in self._unread:
            for metrics in micro:
                for key in metrics:
                    if key.startswith("loss/"):
                        total = self._modality_sums.setdefault(key, [0.0, 0])
                        total[0] += next(floats)
                        total[1] += 1
        self._unread = []
