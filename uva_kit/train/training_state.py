"""Training checkpoints: ``OUT/checkpoints/<step>/{pretrained_model,training_state}`` and a ``last`` pointer.

``pretrained_model/`` is a normal model directory (``uva_kit.load``) holding the EMA weights, which
is what evaluation uses. ``training_state/`` holds everything needed to continue bit for bit: the
raw weights, the EMA weights and update count, the optimizer and LR-scheduler state, the RNG
states and the step. Tensors go to safetensors, the rest to JSON, and ``checksums.json`` holds the
size and SHA-256 of each file, verified on resume (checkpoints from before it are not verified).
Each checkpoint is written atomically and ``last`` is replaced only after it is complete.
"""

from __future__ import annotations

import contextlib
import json
import random
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from uva_kit.atomic import atomic_directory, atomic_write, remove_leftovers
from uva_kit.checksums import record_files, verify_files
from uva_kit.errors import CheckpointError
from uva_kit.pretrained import load_state_strict, save
from uva_kit.run_layout import LAST, MODEL_DIR, STATE_DIR, checkpoint_root, step_name

SCORES = "scores.json"
CHECKSUMS = "checksums.json"
STATE_FILES = ("model.safetensors", "ema.safetensors", "optimizer.safetensors", "rng.safetensors", "state.json")


def _flatten_optimizer(state: dict) -> tuple[dict[str, torch.Tensor], dict]:
    tensors, scalars = {}, {}
    for param_id, values in state["state"].items():
        for key, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{param_id}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars[f"{param_id}.{key}"] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], meta: dict) -> dict:
    state: dict[int, dict[str, Any]] = {}
    for flat, value in [*tensors.items(), *meta["scalars"].items()]:
        param_id, key = flat.split(".", 1)
        state.setdefault(int(param_id), {})[key] = value
    return {"state": state, "param_groups": meta["param_groups"]}


def _rng_state() -> tuple[dict[str, torch.Tensor], dict]:
    tensors = {"torch_cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        for index, state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"torch_cuda_{index}"] = state
    kind, keys, position, has_gauss, gauss = np.random.get_state()
    python_version, python_state, python_gauss = random.getstate()
    meta = {
        "numpy": [kind, keys.tolist(), position, has_gauss, gauss],
        "python": [python_version, list(python_state), python_gauss],
    }
    return tensors, meta


def _restore_rng(tensors: dict[str, torch.Tensor], meta: dict) -> None:
    torch.set_rng_state(tensors["torch_cpu"])
    cuda = [tensors[k] for k in sorted(tensors) if k.startswith("torch_cuda_")]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda[: torch.cuda.device_count()])
    kind, keys, position, has_gauss, gauss = meta["numpy"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), position, has_gauss, gauss))
    version, state, python_gauss = meta["python"]
    random.setstate((version, tuple(state), python_gauss))


class Progress(NamedTuple):
    """How far a run got: its last finished ``step`` and ``trained_s``, the wall time its segments trained."""

    step: int
    trained_s: float


def save_checkpoint(out: Path, step: int, ema_model, ema_updates: int, model_state: dict, optimizer_state: dict,
                    scheduler, trained_s: float = 0.0) -> Path:
    """Write checkpoint ``step`` atomically and point ``last`` at it (``trained_s``: see ``Progress``).

    ``ema_model`` is the whole EMA model; ``model_state`` and ``optimizer_state`` are the whole
    training weights and optimizer state (``state_dict()`` layouts; see ``uva_kit.train.sharding``).
    """
    root = checkpoint_root(out)
    target = root / step_name(step)
    with atomic_directory(target) as staging:
        save(ema_model, staging / MODEL_DIR, extra={"step": step})
        state_dir = staging / STATE_DIR
        state_dir.mkdir()
        save_file({k: v.detach().cpu().contiguous() for k, v in model_state.items()}, str(state_dir / "model.safetensors"))
        save_file({k: v.detach().cpu().contiguous() for k, v in ema_model.state_dict().items()}, str(state_dir / "ema.safetensors"))
        optimizer_tensors, optimizer_meta = _flatten_optimizer(optimizer_state)
        save_file(optimizer_tensors, str(state_dir / "optimizer.safetensors"))
        rng_tensors, rng_meta = _rng_state()
        save_file(rng_tensors, str(state_dir / "rng.safetensors"))
        meta = {
            "step": step,
            "trained_s": trained_s,
            "ema_updates": ema_updates,
            "scheduler": scheduler.state_dict(),
            "optimizer": optimizer_meta,
            "rng": rng_meta,
        }
        (state_dir / "state.json").write_text(json.dumps(meta))
        (state_dir / CHECKSUMS).write_text(json.dumps(record_files(state_dir, STATE_FILES), indent=2) + "\n")
    atomic_write(root / LAST, lambda temporary: Path(temporary).write_text(step_name(step) + "\n"))
    return target


def _other_checkpoints_hint(checkpoint: Path) -> str:
    """How to resume from another complete checkpoint of the run than the unreadable ``checkpoint``."""
    root = checkpoint.parent
    others = sorted(p.name for p in root.iterdir()
                    if p.name.isdigit() and p.name != checkpoint.name and (p / STATE_DIR / "state.json").is_file())
    if not others:
        return "The run has no other checkpoint; start a new run (another --out)."
    return (f"Other checkpoints of this run: {', '.join(others)}. To resume from the newest of them, move {checkpoint} "
            f"out of the way and run: echo {others[-1]} > {root / LAST}")


@contextlib.contextmanager
def _reading(checkpoint: Path):
    """A checkpoint that cannot be read is a CheckpointError that names it and the run's other checkpoints."""
    try:
        yield
    except (CheckpointError, OSError, KeyError, ValueError) as exc:
        problem = str(exc) if isinstance(exc, CheckpointError) else f"{type(exc).__name__}: {exc}"
        raise CheckpointError(f"cannot resume from {checkpoint}: {problem}\n{_other_checkpoints_hint(checkpoint)}") from None


def _load_tensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(path))
    except SafetensorError as exc:
        raise CheckpointError(f"{path} is truncated or corrupt ({exc}).") from None


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path} is corrupt (invalid JSON: {exc}).") from None


def _verify(state_dir: Path) -> None:
    """Check the training-state files against checksums.json, when the checkpoint has one."""
    listing = state_dir / CHECKSUMS
    if listing.exists():
        verify_files(state_dir, _load_json(listing), STATE_FILES, listing)


def load_weights(checkpoint: Path, model, ema) -> None:
    """Restore the whole training and EMA weights (before the model is wrapped or sharded)."""
    state_dir = Path(checkpoint) / STATE_DIR
    with _reading(checkpoint):
        _verify(state_dir)
        for module, name in ((model, "model.safetensors"), (ema.model, "ema.safetensors")):
            load_state_strict(module, _load_tensors(state_dir / name), str(state_dir / name))


def load_progress(checkpoint: Path, ema, scheduler, load_optimizer: Callable[[dict], None]) -> Progress:
    """Restore the optimizer (through ``load_optimizer(whole state)``), LR schedule, EMA count and RNG states.

    Returns where to continue from. Runs after ``load_weights`` and after the optimizer exists.
    """
    state_dir = Path(checkpoint) / STATE_DIR
    with _reading(checkpoint):
        meta = _load_json(state_dir / "state.json")
        load_optimizer(_unflatten_optimizer(_load_tensors(state_dir / "optimizer.safetensors"), meta["optimizer"]))
        _restore_rng(_load_tensors(state_dir / "rng.safetensors"), meta["rng"])
    scheduler.load_state_dict(meta["scheduler"])
    ema.updates = meta["ema_updates"]
    return Progress(int(meta["step"]), float(meta.get("trained_s", 0.0)))  # older checkpoints lack trained_s


def remove_interrupted_saves(out: Path) -> list[Path]:
    """Clean up the temporary folders and files of checkpoint saves that were killed half-way."""
    return remove_leftovers(checkpoint_root(out))


def prune(out: Path, keep_last: int, keep_top_k: int) -> None:
    """Delete checkpoints that are neither among the newest ``keep_last`` nor the ``keep_top_k`` best scored,
    and what interrupted saves left behind."""
    root = checkpoint_root(out)
    remove_interrupted_saves(out)
    steps = sorted(p for p in root.iterdir() if p.is_dir() and p.name.isdigit())
    scores = read_scores(out)
    best = sorted((s for s in scores.items() if s[1] is not None), key=lambda item: -item[1])[:keep_top_k]
    keep = {p.name for p in steps[-keep_last:]} | {name for name, _ in best}
    for path in steps:
        if path.name not in keep:
            shutil.rmtree(path, ignore_errors=True)


def read_scores(out: Path) -> dict[str, float | None]:
    path = checkpoint_root(out) / SCORES
    return json.loads(path.read_text()) if path.exists() else {}


def record_score(out: Path, step: int, score: float) -> None:
    scores = read_scores(out)
    scores[step_name(step)] = float(score)
    atomic_write(checkpoint_root(out) / SCORES, lambda temporary: Path(temporary).write_text(json.dumps(scores, indent=2)))
