"""Strict conversion between plain dicts (from TOML/YAML/JSON) and frozen attrs spec classes.

Every error names the dotted path of the bad value, what was expected, and the closest valid
choice. ``to_dict`` is the inverse: ``from_dict(cls, to_dict(spec)) == spec``.
"""

from __future__ import annotations

import copy
import sys
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Union

import attrs

from uva_kit.errors import RegistryError, SpecError, choices_hint
from uva_kit.spec.component import SLOT_METADATA_KEY, ComponentSpec

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def join(path: str, key: str | int) -> str:
    return f"{path}.{key}" if path else str(key)


def describe(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) < 60 else text[:57] + '...'}"


def type_name(tp: Any) -> str:
    if typing.get_origin(tp) is Literal:
        return " | ".join(repr(a) for a in typing.get_args(tp))
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def from_dict(cls: type, data: Any, path: str = "") -> Any:
    """Build the attrs class ``cls`` from ``data``, rejecting unknown keys and wrong types."""
    if not isinstance(data, Mapping):
        raise SpecError(path, f"expected a table of {cls.__name__} options, got {describe(data)}.")
    fields = {f.name: f for f in attrs.fields(cls)}
    hints = typing.get_type_hints(cls)
    for key in data:
        if key not in fields:
            raise SpecError(join(path, key), f"unknown key '{key}' for {cls.__name__}." + choices_hint(key, fields))
    kwargs = {}
    for name, field in fields.items():
        if name in data:
            kwargs[name] = _convert(hints[name], data[name], join(path, name), field.metadata.get(SLOT_METADATA_KEY))
        elif field.default is attrs.NOTHING:
            raise SpecError(path, f"missing required key '{name}' ({type_name(hints[name])}) for {cls.__name__}.")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:  # validators of the spec class
        if isinstance(exc, SpecError):
            raise
        raise SpecError(path, f"invalid {cls.__name__}: {exc}") from None


def component_from_dict(slot_name: str, data: Any, path: str) -> ComponentSpec:
    """Parse one tagged-union table: ``type`` picks the registered component of ``slot_name``."""
    from uva_kit.registry import default_registry

    if isinstance(data, str):  # shorthand: backbone = "mar"
        data = {"type": data}
    if not isinstance(data, Mapping):
        raise SpecError(path, f"expected a {slot_name} table with a 'type' key, got {describe(data)}.")
    registry = default_registry()
    if "type" not in data:
        raise SpecError(path, f"missing required key 'type' (which {slot_name})." + choices_hint("", registry.list(slot_name)))
    tag = data["type"]
    if not isinstance(tag, str):
        raise SpecError(join(path, "type"), f"expected str, got {describe(tag)}.")
    try:
        component = registry.get(slot_name, tag)
    except RegistryError as exc:
        raise SpecError(join(path, "type"), str(exc)) from None
    spec_class = component.spec_class
    if not (attrs.has(spec_class) and issubclass(spec_class, ComponentSpec)):
        raise SpecError(path, f"{slot_name} '{tag}' from {component.provider} has a spec class that is not an attrs ComponentSpec.")
    return from_dict(spec_class, data, path)


def _convert(tp: Any, value: Any, path: str, slot_name: str | None = None) -> Any:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:
            return _convert(options[0], value, path, slot_name)
        for option in options:
            try:
                return _convert(option, value, path, slot_name)
            except SpecError:
                continue
        raise SpecError(path, f"expected {type_name(tp)}, got {describe(value)}.")
    if origin is tuple:
        if not isinstance(value, Sequence) or isinstance(value, str):
            raise SpecError(path, f"expected a list, got {describe(value)}.")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v, join(path, i), slot_name) for i, v in enumerate(value))
        if len(value) != len(args):
            raise SpecError(path, f"expected a list of {len(args)} values, got {len(value)}.")
        return tuple(_convert(a, v, join(path, i), slot_name) for i, (a, v) in enumerate(zip(args, value)))
    if slot_name is not None:
        return component_from_dict(slot_name, value, path)
    if origin is Literal:
        if value not in args:
            raise SpecError(path, f"invalid value {value!r}." + choices_hint(str(value), [str(a) for a in args]))
        return value
    if origin is dict:
        if not isinstance(value, Mapping):
            raise SpecError(path, f"expected a table, got {describe(value)}.")
        return {str(k): _convert(args[1], v, join(path, k)) for k, v in value.items()}
    if attrs.has(tp):
        return from_dict(tp, value, path)
    if tp is Any:
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise SpecError(path, f"expected bool (true or false), got {describe(value)}.")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SpecError(path, f"expected int, got {describe(value)}.")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SpecError(path, f"expected float, got {describe(value)}.")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise SpecError(path, f"expected str, got {describe(value)}.")
        return value
    raise TypeError(f"{path}: spec annotation {tp!r} is not supported by the spec parser")


def to_dict(spec: Any) -> Any:
    """Plain-data form of a spec (dicts, lists, scalars); component tables start with ``type``."""
    if attrs.has(type(spec)):
        out = {"type": spec.type} if isinstance(spec, ComponentSpec) else {}
        for field in attrs.fields(type(spec)):
            if field.name != "type" or not isinstance(spec, ComponentSpec):
                out[field.name] = to_dict(getattr(spec, field.name))
        return out
    if isinstance(spec, (tuple, list)):
        return [to_dict(v) for v in spec]
    if isinstance(spec, dict):
        return {k: to_dict(v) for k, v in spec.items()}
    return spec


def parse_literal(text: str) -> Any:
    """A command-line value: TOML literals (2, 1e-4, true, [1, 2], "x") or else the raw string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_overrides(data: dict, overrides: Sequence[str]) -> dict:
    """Apply ``a.b=value`` overrides to the dict form of a spec. Setting ``x.type`` to another type resets table x."""
    if isinstance(overrides, str):
        raise SpecError("", f"overrides must be a list of 'dotted.key=value' strings: overrides=[{overrides!r}].")
    data = copy.deepcopy(data)
    for item in overrides:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise SpecError("", f"override {item!r} must look like 'dotted.key=value', e.g. 'backbone.depth=2'.")
        parts = key.split(".")
        target: Any = data
        for depth, part in enumerate(parts[:-1]):
            target = _step(target, part, ".".join(parts[: depth + 1]))
        _assign(target, parts[-1], parse_literal(raw.strip()), key)
    return data


def _step(target: Any, part: str, walked: str) -> Any:
    """The table or list at ``part`` of ``target``; an unset (None) table becomes an empty one to set keys in."""
    if isinstance(target, list):
        index = _index(target, part, walked)
        return target[index]
    if not isinstance(target, dict):
        raise SpecError(walked.rpartition(".")[0], f"is a value ({describe(target)}), not a table: cannot set '{walked}'.")
    if part not in target:
        raise SpecError(walked, f"unknown key '{part}'." + choices_hint(part, target))
    if target[part] is None:
        target[part] = {}
    return target[part]


def _assign(target: Any, last: str, value: Any, key: str) -> None:
    if isinstance(target, list):
        target[_index(target, last, key)] = value
    elif not isinstance(target, dict):
        raise SpecError(key.rpartition(".")[0], f"is a value ({describe(target)}), not a table: cannot set '{key}'.")
    elif last == "type":
        if target.get("type") != value:
            target.clear()  # another component type starts from its own defaults (as when an extending file changes it)
        target["type"] = value
    else:
        target[last] = value  # an unknown key is reported, with suggestions, when the spec is parsed


def _index(target: list, part: str, path: str) -> int:
    if not part.isdigit() or int(part) >= len(target):
        raise SpecError(path, f"expected a list index in 0..{len(target) - 1}, got '{part}'.")
    return int(part)
