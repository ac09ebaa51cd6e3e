"""Inverse dynamics on held-out windows: actions from (history, real future) frames against the recorded ones.

The error of one action is the Euclidean (L2) distance between predicted and recorded actions, in
environment units (PushT: pixels of the 512 x 512 workspace) and, for reference, in the model's
normalized [-1, 1] units. Reported: mean and median over all actions, and the mean per chunk position.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from uva_kit.errors import DataError, InputError
from uva_kit.eval.plots import pyplot
from uva_kit.eval.report import Report
from uva_kit.eval.video_eval import window_indices
from uva_kit.eval.window_conditions import window_conditions


def action_errors(predicted: torch.Tensor, recorded: torch.Tensor) -> torch.Tensor:
    """L2 distance per action (N, L) between action chunks (N, L, action_dim)."""
    if predicted.shape != recorded.shape:
        raise InputError(f"action chunks differ in shape: {tuple(predicted.shape)} vs {tuple(recorded.shape)}")
    return (predicted.double() - recorded.double()).norm(dim=-1)


@torch.no_grad()
def evaluate_inverse(model, dataset, out: Path, *, samples: int = 256, batch_size: int = 16, seed: int = 0,
                     progress: bool = True, run_info: dict | None = None) -> dict:
    """Score ``model.inverse_dynamics`` on evenly spread held-out windows; write eval_info.json (led by ``run_info``,
    the command and its options), plots, report.html."""
    generator = torch.Generator(device=model.device).manual_seed(seed)
    indices = window_indices(len(dataset), samples)
    if "actions" not in dataset[indices[0]]:
        raise DataError("inverse dynamics is scored against the recorded actions, and this dataset has none "
                        "(action-free video); evaluate it on action-labelled data")
    predicted, recorded = [], []
    for start in tqdm(range(0, len(indices), batch_size), desc="inverse dynamics", unit="batch", disable=not progress):
        items = [dataset[i] for i in indices[start:start + batch_size]]
        history = torch.stack([item["history_frames"] for item in items])
        future = torch.stack([item["future_frames"] for item in items])
        conditions = window_conditions(model, items)
        predicted.append(model.inverse_dynamics(history, future, generator=generator, **conditions).double().cpu())
        recorded.append(torch.stack([item["actions"] for item in items]).double())
    predicted, recorded = torch.cat(predicted), torch.cat(recorded)
    errors = action_errors(predicted, recorded)
    normalize = model.action_normalizer.normalize
    normalized = action_errors(*(normalize(a.to(model.device, torch.float32)).cpu() for a in (predicted, recorded)))
    info = {
        **(run_info or {}),
        "windows": len(indices), "actions_per_window": errors.shape[1], "seed": seed, "batch_size": batch_size,
        "device": str(model.device),
        "l2_env_units": {"mean": float(errors.mean()), "median": float(errors.median()), "std": float(errors.std())},
        "l2_normalized": {"mean": float(normalized.mean()), "median": float(normalized.median())},
        "l2_env_units_per_step": errors.mean(dim=0).tolist(),
        "l2_env_units_per_step_quartiles": errors.quantile(torch.tensor([0.25, 0.75], dtype=errors.dtype), dim=0).tolist(),
    }
    (out / "eval_info.json").write_text(json.dumps(info, indent=2))
    _write_report(info, predicted.numpy(), recorded.numpy(), out)
    return info


def _write_report(info: dict, predicted: np.ndarray, recorded: np.ndarray, out: Path) -> None:
    _error_per_step_plot(info, out / "error_per_step.png")
    _trajectory_plot(predicted[:4], recorded[:4], out / "trajectories.png")
    report = Report("Inverse dynamics on held-out windows")
    report.paragraph(f"{info['windows']} held-out windows x {info['actions_per_window']} actions. The model sees the "
                     "history and the real future frames and predicts the action chunk between them; the error is the "
                     "Euclidean distance to the recorded action.")
    env, norm = info["l2_env_units"], info["l2_normalized"]
    report.table(["units", "mean L2", "median L2"],
                 [["environment (PushT: px of 512)", env["mean"], env["median"]], ["normalized [-1, 1]", norm["mean"], norm["median"]]])
    report.image(out / "error_per_step.png")
    report.image(out / "trajectories.png", caption="recorded (solid) vs predicted (dashed) action targets, first windows")
    report.provenance(info)
    report.write(out / "report.html")


def _error_per_step_plot(info: dict, path: Path) -> None:
    """Mean L2 error of each action position in the chunk, with the band between the windows' quartiles."""
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(5, 3.2))
    steps = np.arange(1, info["actions_per_window"] + 1)
    low, high = info["l2_env_units_per_step_quartiles"]
    axes.fill_between(steps, low, high, alpha=0.25, label="windows' 25-75 %")
    axes.plot(steps, info["l2_env_units_per_step"], marker="o", label="mean")
    axes.set_ylim(bottom=0)
    axes.set_xlabel("action in the chunk (1 = the first)")
    axes.set_ylabel("L2 error (env units)")
    axes.set_title(f"inverse dynamics error by step, {info['windows']} windows")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _trajectory_plot(predicted: np.ndarray, recorded: np.ndarray, path: Path) -> None:
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(5.2, 4))
    for i, (p, r) in enumerate(zip(predicted, recorded)):
        line = axes.plot(r[:, 0], r[:, 1], "-o", markersize=2, label=f"window {i}")[0]
        axes.plot(p[:, 0], p[:, 1], "--x", markersize=3, color=line.get_color())
    axes.set_aspect("equal")
    axes.invert_yaxis()  # image coordinates
    axes.set_xlabel("x (env units)")
    axes.set_ylabel("y (env units)")
    axes.set_title("action targets: recorded vs predicted")
    axes.plot([], [], "-", color="gray", label="recorded")
    axes.plot([], [], "--", color="gray", label="predicted")
    axes.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
