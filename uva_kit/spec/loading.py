"""``load_spec``: presets and spec files (.toml, .yaml, .json) to a validated ``UVASpec``."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from uva_kit.errors import SpecError, choices_hint
from uva_kit.spec.migrations import migrate
from uva_kit.spec.model import UVASpec
from uva_kit.spec.parse import apply_overrides, from_dict, to_dict

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SPEC_SUFFIXES = (".toml", ".yaml", ".yml", ".json")
EXTENDS_KEY = "extends"


def read_spec_file(path: str | Path) -> dict:
    """The raw dict of a .toml/.yaml/.json file; a syntax error names the file and the problem."""
    path = Path(path)
    if path.suffix not in SPEC_SUFFIXES:
        raise SpecError("", f"{path}: unsupported spec file type '{path.suffix}'; use one of {', '.join(SPEC_SUFFIXES)}.")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError("", f"cannot read spec file {path}: {exc.strerror or exc}.") from None
    try:
        if path.suffix == ".toml":
            data = tomllib.loads(text)
        elif path.suffix == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except Exception as exc:  # noqa: BLE001 - each format raises its own error type
        raise SpecError("", f"{path} is not valid {path.suffix[1:].upper()}: {exc}") from None
    if not isinstance(data, dict):
        raise SpecError("", f"{path} must hold a table of spec keys at the top level.")
    return data


def preset_names() -> list[str]:
    from uva_kit.plugins import presets

    return sorted(presets())


def _resolve_source(name_or_path: str | Path) -> tuple[dict, str]:
    from uva_kit.plugins import presets

    candidate = Path(name_or_path)
    if candidate.suffix in SPEC_SUFFIXES or candidate.exists():
        if not candidate.exists():
            raise SpecError("", f"spec file {candidate} does not exist.")
        return read_spec_file(candidate), str(candidate)
    known = presets()
    name = str(name_or_path)
    if name not in known:
        raise SpecError("", f"'{name}' is neither a spec file nor a preset." + choices_hint(name, known))
    return read_spec_file(known[name]), f"preset '{name}'"


def _merge(base: Any, override: Any) -> Any:
    """Deep-merge ``override`` into ``base``; a table whose ``type`` changes is replaced whole."""
    if not (isinstance(base, dict) and isinstance(override, dict)):
        return override
    if "type" in override and override.get("type") != base.get("type"):
        return dict(override)
    merged = dict(base)
    for key, value in override.items():
        merged[key] = _merge(base[key], value) if key in base else value
    return merged


def load_raw(name_or_path: str | Path, _seen: tuple[str, ...] = ()) -> tuple[dict, str]:
    """The dict form of a preset or file with its ``extends`` chain merged, and where it came from."""
    data, source = _resolve_source(name_or_path)
    parent = data.pop(EXTENDS_KEY, None)
    if parent is None:
        return data, source
    if not isinstance(parent, str):
        raise SpecError(EXTENDS_KEY, f"expected the name of a preset or a spec file, got {parent!r} in {source}.")
    if parent in _seen:
        raise SpecError(EXTENDS_KEY, f"{source} extends itself through {' -> '.join((*_seen, parent))}.")
    base, _ = load_raw(parent, (*_seen, str(name_or_path)))
    return _merge(base, data), source


def load_spec(name_or_path: str | Path, overrides: Sequence[str] = ()) -> UVASpec:
    """Load a preset name (``uva_kit.spec.preset_names()``) or a .toml/.yaml/.json spec file, apply
    ``a.b=value`` overrides (a list: ``["backbone.depth=2", "training.lr=3e-4"]``), validate.

    Parsing is strict: unknown keys or types and wrong value types raise ``SpecError`` naming the
    dotted path, the valid choices and the closest match.
    """
    data, source = load_raw(name_or_path)
    spec = spec_from_dict(migrate(data, source))
    if overrides:
        spec = spec_from_dict(apply_overrides(to_dict(spec), overrides))
    return spec


def as_spec(spec: UVASpec | str | Path) -> UVASpec:
    """``spec`` itself, or the spec ``load_spec`` reads from a preset name or spec file."""
    return spec if isinstance(spec, UVASpec) else load_spec(spec)


def spec_from_dict(data: dict) -> UVASpec:
    """A ``UVASpec`` from its dict form (as in a saved model's config.json)."""
    return from_dict(UVASpec, migrate(data))
