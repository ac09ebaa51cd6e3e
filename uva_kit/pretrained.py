"""Self-describing model directories: ``uva_kit.save(model, dir)`` and ``uva_kit.load(dir)``.

    dir/config.json                resolved spec, format version, library/torch/plugin versions, file checksums
    dir/model.safetensors          the weights
    dir/normalization.safetensors  the model-owned normalization statistics

Writes are atomic. Loading refuses an incomplete, corrupt or mismatched directory and says what
is wrong; it never keeps random weights for something it could not load.

``uva_kit.load`` also takes a training checkpoint ``OUT/checkpoints/<step>`` or a training run ``OUT``
(its newest complete checkpoint); :func:`model_directory` says which model directory that is.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from uva_kit.atomic import atomic_directory
from uva_kit.checksums import record_files, verify_files
from uva_kit.errors import CheckpointError, SpecError, UvaKitError
from uva_kit.run_layout import MODEL_DIR, last_checkpoint

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from uva_kit.model.uva import UVAModel

FORMAT = "uva_kit.pretrained_model"
FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
NORMALIZATION_FILE = "normalization.safetensors"
NORMALIZER_MARKER = "normalizer."


def _is_normalization_key(key: str) -> bool:
    return key.startswith(NORMALIZER_MARKER) or f".{NORMALIZER_MARKER}" in key


def _used_plugins(spec: Any) -> dict[str, dict[str, str | None]]:
    """The plugins other than the built-ins that provide a component named in ``spec``."""
    import attrs

    from uva_kit.plugins import BUILTIN_PLUGIN
    from uva_kit.registry import default_registry
    from uva_kit.spec import ComponentSpec

    components = default_registry().components()
    used: dict[str, dict[str, str | None]] = {}

    def visit(value: Any) -> None:
        if isinstance(value, ComponentSpec):
            for component in components:
                if component.name == value.type and type(value) is component.spec_class:
                    provider = component.provider
                    if provider.plugin != BUILTIN_PLUGIN:
                        used[provider.plugin] = {"distribution": provider.distribution, "version": provider.version}
        if attrs.has(type(value)):
            for field in attrs.fields(type(value)):
                visit(getattr(value, field.name))
        elif isinstance(value, tuple):
            for item in value:
                visit(item)

    visit(spec)
    return used


def save(model: UVAModel, directory: str | Path, extra: dict | None = None) -> Path:
    """Write ``model`` (built by ``uva_kit.build``) to ``directory`` atomically and return the directory.

    The weights and normalization statistics are saved as they are (device and dtype aside: stored on the
    CPU); ``extra`` adds JSON-serializable entries to config.json. An existing ``directory`` is replaced.
    """
    import torch
    from safetensors.torch import save_file

    from uva_kit import __version__
    from uva_kit.spec import to_dict

    model = getattr(model, "_orig_mod", model)  # torch.compile(model) wraps it; its state_dict keys say so
    spec = getattr(model, "spec", None)
    if spec is None:
        raise UvaKitError("uva_kit.save needs a model built by uva_kit.build (it has no .spec).")
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    weights = {k: v for k, v in state.items() if not _is_normalization_key(k)}
    normalization = {k: v for k, v in state.items() if _is_normalization_key(k)}
    directory = Path(directory)
    with atomic_directory(directory) as staging:
        save_file(weights, str(staging / WEIGHTS_FILE))
        save_file(normalization, str(staging / NORMALIZATION_FILE))
        config = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "spec": to_dict(spec),
            "uva_kit_version": __version__,
            "torch_version": torch.__version__,
            "plugins": _used_plugins(spec),
            "files": record_files(staging, (WEIGHTS_FILE, NORMALIZATION_FILE)),
            **(extra or {}),
        }
        (staging / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
    return directory


def model_directory(path: str | Path) -> Path:
    """The model directory ``path`` names: ``path`` itself when it holds config.json, a training checkpoint's
    ``pretrained_model/``, or for a training run the one of its newest complete checkpoint (``checkpoints/last``)."""
    path = Path(path)
    if (path / CONFIG_FILE).is_file():
        return path
    if (path / MODEL_DIR / CONFIG_FILE).is_file():
        return path / MODEL_DIR
    newest = last_checkpoint(path)
    if newest is not None:
        return newest / MODEL_DIR
    found = "it does not exist" if not path.exists() else f"no {CONFIG_FILE} in it or in {path / MODEL_DIR}"
    raise CheckpointError(f"{path} is not a model folder ({found}); pass a folder written by uva_kit.save, a "
                          "training checkpoint OUT/checkpoints/<step> (or its pretrained_model), or a training run OUT "
                          "(its newest checkpoint)")


def read_config(directory: str | Path) -> dict:
    """The parsed config.json of a model directory, checked for format and completeness."""
    directory = Path(directory)
    if not directory.is_dir():
        raise CheckpointError(f"{directory} is not a model directory (it does not exist or is a file).")
    config_path = directory / CONFIG_FILE
    if not config_path.exists():
        raise CheckpointError(f"{directory} has no {CONFIG_FILE}: not a uva_kit model directory, or an incomplete copy.")
    try:
        config = json.loads(config_path.read_text())
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{config_path} is corrupt (invalid JSON: {exc}).") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        found = config.get("format") if isinstance(config, dict) else type(config).__name__
        raise CheckpointError(f"{config_path} is not a uva_kit model config (format {found!r}).")
    if config.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(
            f"{directory} was written by a newer uva_kit (format {config['format_version']}); upgrade uva_kit to load it."
        )
    for key in ("spec", "files"):
        if key not in config:
            raise CheckpointError(f"{config_path} lacks '{key}'; the directory is incomplete.")
    return config


def _check_files(directory: Path, config: dict) -> None:
    verify_files(directory, config["files"], (WEIGHTS_FILE, NORMALIZATION_FILE), directory / CONFIG_FILE)


def _check_plugins(config: dict) -> None:
    from uva_kit.registry import default_registry

    known = {c.provider.plugin for c in default_registry().components()}
    missing = [f"{name} (pip install {info.get('distribution') or name})"
               for name, info in config.get("plugins", {}).items() if name not in known]
    if missing:
        raise CheckpointError(f"this model needs plugins that are not installed: {', '.join(missing)}.")


def load_state_strict(model: Any, state: dict, source: str) -> None:
    """Load ``state`` into ``model``; any missing, unexpected or mis-shaped key is an error listing them."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    mismatched = sorted(
        f"{k}: saved {tuple(state[k].shape)}, model {tuple(expected[k].shape)}"
        for k in set(expected) & set(state) if tuple(state[k].shape) != tuple(expected[k].shape)
    )
    if missing or unexpected or mismatched:
        def listing(title: str, keys: list[str]) -> str:
            shown = ", ".join(keys[:10]) + (f", ... ({len(keys)} in all)" if len(keys) > 10 else "")
            return f"\n  {title}: {shown}" if keys else ""

        raise CheckpointError(
            f"{source} does not match the model built from its spec:"
            + listing("missing", missing) + listing("unexpected", unexpected) + listing("shape mismatch", mismatched)
        )
    model.load_state_dict(state, strict=True)


def load_matching_weights(model: Any, directory: str | Path) -> tuple[list[str], list[str]]:
    """Initialise ``model`` from a model directory where names and shapes match (e.g. stage 2 from stage 1).

    ``directory`` may also be a training checkpoint or run: see :func:`model_directory`. Returns (loaded keys,
    model keys left as they were). Normalization statistics are not taken: they come from the new training
    data. Nothing matching at all is an error.
    """
    from safetensors.torch import load_file

    directory = model_directory(directory)
    config = read_config(directory)
    _check_files(directory, config)
    saved = load_file(str(directory / WEIGHTS_FILE))
    current = model.state_dict()
    matching = {k: v for k, v in saved.items() if k in current and tuple(v.shape) == tuple(current[k].shape)}
    if not matching:
        raise CheckpointError(f"no weight of {directory} matches this model by name and shape; is it the right checkpoint?")
    model.load_state_dict(matching, strict=False)
    kept = sorted(k for k in set(current) - set(matching) if not _is_normalization_key(k))
    return sorted(matching), kept


def _without_encoder_checkpoint(spec):
    """The spec a saved model is rebuilt from: the encoder's weights are in the model's own files, so its
    ``encoder.checkpoint`` (pretrained weights it was trained from, which need not exist where the model is
    loaded) is not read; the loaded model's spec names none."""
    import attrs

    if getattr(spec.encoder, "checkpoint", None) is None:
        return spec
    return attrs.evolve(spec, encoder=attrs.evolve(spec.encoder, checkpoint=None))


def load(directory: str | Path, device: str | torch.device = "cpu") -> UVAModel:
    """Build the model described by ``directory/config.json`` and load its weights and statistics.

    Returns the model on ``device`` in eval mode, in float32 (``model.to(dtype)`` for another). ``directory``
    may also be a training checkpoint or run: see :func:`model_directory`. Raises ``CheckpointError``
    naming what is missing, corrupt or mismatched.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from uva_kit import build
    from uva_kit.encoder.checkpoint import RandomWeightsWarning
    from uva_kit.model.uva import UnusedModalityWarning
    from uva_kit.spec import spec_from_dict

    directory = model_directory(directory)
    config = read_config(directory)
    _check_files(directory, config)
    _check_plugins(config)
    try:
        spec = spec_from_dict(config["spec"])
    except SpecError as exc:
        raise CheckpointError(f"{directory / CONFIG_FILE} holds an invalid spec: {exc}") from None
    spec = _without_encoder_checkpoint(spec)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RandomWeightsWarning)  # every weight is loaded (strictly) below
        warnings.simplefilter("ignore", UnusedModalityWarning)  # a spec advice, given when the model was built to train
        model = build(spec)
    state = {}
    for name in (WEIGHTS_FILE, NORMALIZATION_FILE):
        try:
            state.update(load_file(str(directory / name)))
        except (SafetensorError, OSError) as exc:
            raise CheckpointError(f"{directory / name} cannot be read: {exc}") from None
    load_state_strict(model, state, str(directory))
    return model.to(device).eval()
