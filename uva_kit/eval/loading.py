"""Open the model an evaluation is about: a model folder, or the folder holding its ``pretrained_model/``."""

from __future__ import annotations

from pathlib import Path

from uva_kit.errors import CheckpointError


def model_directory(path: str | Path) -> Path:
    """``path`` itself when it holds config.json, else ``path/pretrained_model`` (a training checkpoint)."""
    path = Path(path)
    for candidate in (path, path / "pretrained_model"):
        if (candidate / "config.json").is_file():
            return candidate
    raise CheckpointError(f"{path} is not a model folder (no config.json in it or in {path / 'pretrained_model'}); "
                          "pass OUT/checkpoints/<step>/pretrained_model or a folder written by uva_kit.save")


def load_model(path: str | Path, device: str | None = None):
    """The model at ``path`` on ``device`` (default: cuda when available), in eval mode."""
    import uva_kit
    from uva_kit.devices import resolve_device

    device = resolve_device(device)  # before the model is read: a bad --device fails fast
    return uva_kit.load(model_directory(path), device=device).eval()
