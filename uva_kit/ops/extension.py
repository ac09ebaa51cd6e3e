"""Loading the compiled extension ``uva_kit._C``, and saying whether it is in use and why."""

from __future__ import annotations

import functools
import importlib
import os

import attrs

DISABLE_ENV = "UVA_KIT_DISABLE_EXTENSION"


@attrs.frozen
class ExtensionStatus:
    loaded: bool
    detail: str
    ops: tuple[str, ...] = ()


@functools.cache
def extension_status() -> ExtensionStatus:
    """Whether the fused C++ ops are available (``UVA_KIT_DISABLE_EXTENSION=1`` forces the reference)."""
    if os.environ.get(DISABLE_ENV, "") in ("1", "true", "yes"):
        return ExtensionStatus(False, f"disabled by {DISABLE_ENV}=1; using the PyTorch reference ops")
    import torch

    try:
        module = importlib.import_module("uva_kit._C")
    except ImportError as exc:
        return ExtensionStatus(False, f"not built ({exc}); using the PyTorch reference ops")
    ops = tuple(sorted(s.name.partition("::")[2] for s in torch._C._jit_get_all_schemas() if s.name.startswith("uva_kit::")))
    return ExtensionStatus(True, f"built: {module.__file__}", ops)


def has_op(name: str) -> bool:
    status = extension_status()
    return status.loaded and name in status.ops
