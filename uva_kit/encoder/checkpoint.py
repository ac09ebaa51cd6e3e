"""Loading encoder weights from local files, strictly: never silently keeping random weights.

Accepted files: ``.safetensors``; a legacy ``.ckpt`` / ``.pt`` / ``.pth`` read with
``torch.load(weights_only=True)`` (a plain state dict, or one under ``"model"`` or ``"state_dict"``
as in MAR's ``kl16.ckpt``); or a directory holding ``model.safetensors`` (what ``uva-kit train-vae``
writes). Keys prefixed ``vae_model.`` (a UVA policy state dict) are used when the bare names are absent.
"""

from __future__ import annotations

import pickle
import warnings
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from uva_kit.errors import CheckpointError

WEIGHTS_FILE = "model.safetensors"
LEGACY_SUFFIXES = (".ckpt", ".pt", ".pth")
POLICY_PREFIX = "vae_model."
_LISTED = 8  # names shown per category in an error message


class RandomWeightsWarning(UserWarning):
    """A pretrained component was built without a checkpoint: its weights are random."""


def warn_random_weights(component: str) -> None:
    warnings.warn(
        f"encoder '{component}' has random weights: its spec names no checkpoint. "
        f"Set encoder.checkpoint=PATH to load pretrained weights.",
        RandomWeightsWarning,
        stacklevel=3,
    )


def weights_path(path: str | Path) -> Path:
    """The weights file of ``path`` (a file, or a directory holding ``model.safetensors``); must exist."""
    path = Path(path).expanduser()
    if path.is_dir():
        path = path / WEIGHTS_FILE
    if not path.is_file():
        raise CheckpointError(
            f"checkpoint {path} does not exist. Point encoder.checkpoint at an existing .safetensors, "
            f".ckpt file or a directory written by `uva-kit train-vae`, or remove it to use random weights."
        )
    return path


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors stored in the checkpoint at ``path`` (see the module docstring for formats)."""
    path = weights_path(path)
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(path)
        except (SafetensorError, OSError) as exc:
            raise CheckpointError(f"checkpoint {path} is not a readable safetensors file ({exc}).") from None
    if path.suffix not in LEGACY_SUFFIXES:
        raise CheckpointError(f"checkpoint {path}: unknown format '{path.suffix}'; expected .safetensors or .ckpt.")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"checkpoint {path} holds objects other than tensors and plain containers, which are not loaded "
            f"for safety ({str(exc).splitlines()[0]}). Save just the state dict, or convert it to safetensors."
        ) from None
    except (RuntimeError, EOFError, OSError) as exc:
        raise CheckpointError(f"checkpoint {path} is corrupt or not a torch checkpoint ({exc}).") from None
    return _state_dict_in(data, path)


def _state_dict_in(data: object, path: Path) -> dict[str, torch.Tensor]:
    if isinstance(data, Mapping):
        for wrapper in ("model", "state_dict"):
            if isinstance(data.get(wrapper), Mapping):
                data = data[wrapper]
                break
    if not isinstance(data, Mapping) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise CheckpointError(
            f"checkpoint {path} is not a state dict: expected a mapping of names to tensors "
            f"(possibly under 'model' or 'state_dict')."
        )
    return dict(data)


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:_LISTED])
    return shown + (f", ... ({len(names) - _LISTED} more)" if len(names) > _LISTED else "")


def load_state(module: nn.Module, state: Mapping[str, torch.Tensor], source: str | Path) -> None:
    """Load every parameter and buffer of ``module`` from ``state`` (read from ``source``).

    Any missing, unexpected or differently shaped tensor is a CheckpointError listing them all.
    """
    expected = module.state_dict()
    if not expected.keys() & state.keys() and any(k.startswith(POLICY_PREFIX) for k in state):
        state = {k[len(POLICY_PREFIX):]: v for k, v in state.items() if k.startswith(POLICY_PREFIX)}
    missing = sorted(expected.keys() - state.keys())
    unexpected = sorted(state.keys() - expected.keys())
    mismatched = [
        f"{k} (checkpoint {tuple(state[k].shape)}, model {tuple(expected[k].shape)})"
        for k in sorted(expected.keys() & state.keys())
        if state[k].shape != expected[k].shape
    ]
    problems = [
        f"{len(items)} {label}: {_names(items)}"
        for label, items in (("missing", missing), ("unexpected", unexpected), ("with mismatched shapes", mismatched))
        if items
    ]
    if problems:
        raise CheckpointError(
            f"checkpoint {source} does not match {type(module).__name__}: " + "; ".join(problems)
            + ". Check that the checkpoint was made for this architecture and these spec options."
        )
    module.load_state_dict(state, strict=True)
