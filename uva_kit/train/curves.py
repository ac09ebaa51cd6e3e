"""Loss curves of training runs (PNG) from their ``metrics.jsonl``: one run's training loss, each modality's loss
and the validation loss against the step, or several runs' training and validation losses overlaid.

``fit`` redraws ``OUT/curves.png`` at each validation and checkpoint; ``uva-kit plot`` draws them on demand.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from uva_kit.errors import InputError
from uva_kit.run_layout import RUN_CONFIG
from uva_kit.train.metrics import MetricsLog, read_metrics

CURVES_FILE = "curves.png"


def loss_series(run: str | Path, modalities: bool = True) -> dict[str, tuple[list[int], list[float]]]:
    """The losses of ``run`` against the step: "train" (all modes), "train <modality>" for each modality's loss
    (``modalities=True``) and "validation (EMA)"; an error says what to do when ``run`` is no run or has no records."""
    run = Path(run)
    if not (run / RUN_CONFIG).is_file():
        raise InputError(f"{run} is not a training run (no {RUN_CONFIG}): give the --out folder of `uva-kit train`")
    train, val = read_metrics(run, "train"), read_metrics(run, "val")
    if not train and not val:
        raise InputError(f"{run} has no loss records yet ({MetricsLog.FILE} is empty or missing): a run writes one "
                         "every training.log_every steps and at each validation; plot it again after those")
    series = {"train": _points(train, "loss")}
    if modalities:
        for key in sorted({key for record in train for key in record if key.startswith("loss/")}):
            series[f"train {key.removeprefix('loss/')}"] = _points(train, key)
    series["validation (EMA)"] = _points(val, "loss")
    return {name: points for name, points in series.items() if points[0]}


def _points(records: list[dict], key: str) -> tuple[list[int], list[float]]:
    """The steps and values of ``key`` in the records that have it."""
    having = [record for record in records if key in record]
    return [record["step"] for record in having], [record[key] for record in having]


def plot_runs(runs: Sequence[str | Path], path: str | Path, labels: Sequence[str] | None = None) -> Path:
    """Draw the loss curves of one run (every series of ``loss_series``) or of several (each one's training and
    validation loss, named "<label>: train" and so on; labels default to the run folders as given) into ``path``,
    written atomically; the y axis is logarithmic when every loss is positive."""
    from uva_kit.atomic import atomic_write
    from uva_kit.eval.plots import line_plot

    if len(runs) == 1:
        series, title = loss_series(runs[0]), f"{Path(runs[0]).name}: loss"
    else:
        labels = labels or [str(run) for run in runs]
        series = {f"{label}: {name}": points for run, label in zip(runs, labels)
                  for name, points in loss_series(run, modalities=False).items()}
        title = f"loss of {len(runs)} runs"
    positive = all(y > 0 for _, ys in series.values() for y in ys)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, lambda temporary: line_plot(series, temporary, xlabel="step", ylabel="loss",
                                                          title=title, log_y=positive, legend_outside=True))


def redraw_run_curves(run: Path) -> None:
    """``fit``'s: redraw ``run/curves.png`` once the run has a loss record (an evaluation score is none)."""
    if any(record["split"] in ("train", "val") for record in read_metrics(run)):
        plot_runs([run], run / CURVES_FILE)
