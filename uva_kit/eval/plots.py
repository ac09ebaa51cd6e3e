"""Plots of evaluation results (PNG, matplotlib's Agg backend): bars per agent or setting, lines over steps."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

MARKERS = ("o", "s", "^", "D", "v", "P")
LINE_STYLES = ("-", "--", ":", "-.")
MAX_MARKED_POINTS = 60  # a longer line (a training loss) is drawn without markers
BASELINE_ALPHA, BASELINE_HATCH = 0.45, "//"
TICK_CHARACTER_WIDTH = 0.09  # inches per character of a tick label (10 pt), with room between labels


def bar_plot(labels: Sequence[str], series: dict[str, Sequence[float]], path: str | Path, *, ylabel: str, title: str,
             ylim: tuple[float, float] | None = None, errors: dict[str, Sequence[float]] | None = None,
             value_format: str = "{:.2f}", legend_title: str | None = None, baselines: Sequence[str] = ()) -> Path:
    """A group of bars per label, one bar per series (``series[name]`` holds a value per label), each bar's value
    written on it; ``errors[name]`` (optional) draws error bars (e.g. the standard error over episodes). The bars
    of the labels in ``baselines`` are pale and hatched, so that a model stands apart from its baselines."""
    from matplotlib.patches import Patch

    plt = pyplot()
    figure_width = max(4.0, 0.5 * len(labels) * len(series) + 2)
    figure, axes = plt.subplots(figsize=(figure_width, 3.2))
    width = 0.8 / len(series)
    for i, (name, values) in enumerate(series.items()):
        spread = (errors or {}).get(name)
        xs = np.arange(len(values)) + (i - (len(series) - 1) / 2) * width
        bars = axes.bar(xs, values, width, label=name, yerr=spread, capsize=4 if spread is not None else 0)
        for bar, label in zip(bars, labels):
            if label in baselines:
                bar.set_alpha(BASELINE_ALPHA)
                bar.set_hatch(BASELINE_HATCH)
        tops = np.asarray(values) + (np.asarray(spread) if spread is not None else 0)  # above the error bar
        for x, top, value in zip(xs, tops, values):
            axes.annotate(value_format.format(value), (x, top), xytext=(0, 2), textcoords="offset points", ha="center",
                          va="bottom", fontsize=8)
    crowded = sum(len(label) for label in labels) * TICK_CHARACTER_WIDTH > figure_width - 1  # side by side they would touch
    axes.set_xticks(range(len(labels)), labels, rotation=30 if crowded else 0, ha="right" if crowded else "center")
    if ylim is not None:
        axes.set_ylim(*ylim)
    else:
        axes.margins(y=0.15)  # room for the value labels
    handles = axes.get_legend_handles_labels()[0]
    if any(label in baselines for label in labels):
        handles.append(Patch(facecolor="white", edgecolor="grey", hatch=BASELINE_HATCH, label="baseline"))
    return _save_plot(plt, figure, axes, path, ylabel=ylabel, title=title, legend=len(handles) > 1,
                      legend_title=legend_title, handles=handles)


def line_plot(series: dict[str, tuple[Sequence[float], Sequence[float]]], path: str | Path, *, xlabel: str,
              ylabel: str, title: str, connect: bool = True, ylim: tuple[float, float] | None = None,
              log_y: bool = False, legend_outside: bool = False) -> Path:
    """One line per name: ``series[name] = (xs, ys)``, each with its own marker (up to MAX_MARKED_POINTS points) and
    line style, so that equal series stay apart. ``connect=False``: markers only, for independent points
    (episodes), each series shifted a little sideways so that equal values do not hide each other. Integer x
    values get integer ticks; ``log_y`` makes the y axis logarithmic (positive values only, labelled as plain
    numbers). ``legend_outside`` puts the legend right of the plot (many or long names), where it hides no line."""
    from matplotlib.ticker import LogFormatter, MaxNLocator

    plt = pyplot()
    figure, axes = plt.subplots(figsize=(7.5 if legend_outside else 5, 3.2))
    shift = 0.3 / len(series)
    for i, (name, (xs, ys)) in enumerate(series.items()):
        if not connect:
            xs = np.asarray(xs, dtype=float) + (i - (len(series) - 1) / 2) * shift
        marker = MARKERS[i % len(MARKERS)] if len(xs) <= MAX_MARKED_POINTS or not connect else None
        axes.plot(xs, ys, marker=marker, linestyle=LINE_STYLES[i % len(LINE_STYLES)] if connect else "none", label=name)
    if all(float(x).is_integer() for xs, _ in series.values() for x in xs):
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    if ylim is not None:
        axes.set_ylim(*ylim)
    if log_y:
        axes.set_yscale("log")
        axes.yaxis.set_major_formatter(LogFormatter(labelOnlyBase=False))
        axes.yaxis.set_minor_formatter(LogFormatter(labelOnlyBase=False))
    axes.set_xlabel(xlabel)
    return _save_plot(plt, figure, axes, path, ylabel=ylabel, title=title, legend=len(series) > 1,
                      legend_outside=legend_outside)


def pyplot():
    """matplotlib.pyplot on the file-only Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save_plot(plt, figure, axes, path: str | Path, *, ylabel: str, title: str, legend: bool,
               legend_title: str | None = None, legend_outside: bool = False, handles: list | None = None) -> Path:
    """Label the plot, write it to ``path`` (PNG whatever its suffix, e.g. an atomic write's temporary name; 100 dpi)
    and free the figure; ``handles``: the legend's entries (default: every labelled artist)."""
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    if legend:
        outside = {"loc": "upper left", "bbox_to_anchor": (1.01, 1), "fontsize": "small"} if legend_outside else {}
        entries = {"handles": handles} if handles is not None else {}
        axes.legend(**entries, title=legend_title, title_fontsize=8, **outside)
    figure.tight_layout()
    figure.savefig(path, dpi=100, format="png")
    plt.close(figure)
    return Path(path)
