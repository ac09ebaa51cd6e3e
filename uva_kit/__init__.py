"""uva_kit: Unified Video Action models for robot learning.

    spec = uva_kit.load_spec("pusht-tiny", overrides=["backbone.depth=2"])  # a preset or a .toml/.yaml/.json
    model = uva_kit.build(spec)                     # a UVAModel (torch.nn.Module); help(type(model)) for its methods
    actions = model.predict_actions(history)        # history (B, T, 3, H, W) in [0, 1] -> (B, L, action_dim)
    uva_kit.save(model, "out/dir"); model = uva_kit.load("out/dir")
    policy = uva_kit.Policy(model)                  # env-facing: reset(), select_action({"image": frame})

Also: ``uva_kit.registry`` (what is registered), ``uva_kit.errors``, ``uva_kit.hookimpl`` (plugins), and the
subpackages ``uva_kit.data`` (datasets), ``uva_kit.envs`` (simulated envs), ``uva_kit.train`` (``fit``) and
``uva_kit.eval`` (``evaluate_policy``). ``import uva_kit`` is cheap (no torch): each name loads on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY: dict[str, str] = {
    "load_spec": "uva_kit.spec:load_spec",
    "UVASpec": "uva_kit.spec:UVASpec",
    "hookimpl": "uva_kit.hookspecs:hookimpl",
    "registry": "uva_kit.registry",
    "errors": "uva_kit.errors",
    "build": "uva_kit.model.build:build",
    "Policy": "uva_kit.model.policy:Policy",
    "save": "uva_kit.pretrained:save",
    "load": "uva_kit.pretrained:load",
}

# workflow subpackages, reachable as ``uva_kit.<name>`` after a plain ``import uva_kit``
_SUBPACKAGES = ("data", "envs", "eval", "spec", "train")

if TYPE_CHECKING:  # pragma: no cover
    from uva_kit import errors, registry
    from uva_kit.hookspecs import hookimpl
    from uva_kit.model.build import build
    from uva_kit.model.policy import Policy
    from uva_kit.pretrained import load, save
    from uva_kit.spec import UVASpec, load_spec

__all__ = ["Policy", "UVASpec", "__version__", "build", "errors", "hookimpl", "load", "load_spec", "registry", "save"]


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name) or (f"uva_kit.{name}" if name in _SUBPACKAGES else None)
    if target is None:
        raise AttributeError(f"module 'uva_kit' has no attribute '{name}'")
    module_name, _, attribute = target.partition(":")
    module = importlib.import_module(module_name)
    value = getattr(module, attribute) if attribute else module
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*__all__, *_SUBPACKAGES])
