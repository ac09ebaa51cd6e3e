"""Open the model an evaluation is about: a model folder, a training checkpoint or a training run."""

from __future__ import annotations

from pathlib import Path


def load_model(path: str | Path, device: str | None = None):
    """The model that ``path`` names (``uva_kit.pretrained.model_directory``) on ``device`` (default: cuda when
    available), in eval mode, and its folder. Prints that folder when ``path`` is a training checkpoint or run."""
    import uva_kit
    from uva_kit.devices import resolve_device
    from uva_kit.pretrained import model_directory

    device = resolve_device(device)  # before the model is read: a bad --device fails fast
    directory = model_directory(path)
    if directory != Path(path):
        print(f"{path}: using {directory}")
    return uva_kit.load(directory, device=device).eval(), directory
