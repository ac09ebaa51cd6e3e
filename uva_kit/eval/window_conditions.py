"""What held-out windows give a model besides frames and actions: their instruction and other stream inputs."""

from __future__ import annotations

import torch


def window_conditions(model, items: list[dict]) -> dict:
    """Keyword arguments of the model's inference methods from dataset samples ``items``: ``instruction`` (a list)
    where they carry one, and ``inputs`` for each stream modality besides video and action whose data they carry."""
    conditions = {}
    if "instruction" in items[0]:
        conditions["instruction"] = [item["instruction"] for item in items]
    inputs = {modality.name: torch.stack([item[modality.data_key] for item in items])
              for modality in model.stream_modalities[1:]
              if modality.name != "action" and getattr(modality, "data_key", None) in items[0]}
    if inputs:
        conditions["inputs"] = inputs
    return conditions


def sliced(conditions: dict, part: slice) -> dict:
    """The conditions of the windows ``part`` selects."""
    return {key: {name: value[part] for name, value in values.items()} if isinstance(values, dict) else values[part]
            for key, values in conditions.items()}
