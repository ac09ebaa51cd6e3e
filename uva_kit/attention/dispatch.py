"""Choosing the attention backend at run time, with capability checks.

Precedence, highest first:

1. ``with uva_kit.attention.dispatch.use("math"):`` (a context manager; per thread/task);
2. ``model.set_attention_backend("flash")``;
3. the ``UVA_KIT_ATTN_BACKEND`` environment variable, read when the model is built;
4. the spec's ``attention`` slot (default ``sdpa``).

A backend that cannot run on the given inputs (device, dtype, head size, not installed) raises an
error that says why and how to choose another; nothing silently falls back.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Iterator

import torch

from uva_kit.attention.base import AttentionBackend
from uva_kit.errors import UvaKitError

ENV_VAR = "UVA_KIT_ATTN_BACKEND"
_override: contextvars.ContextVar[AttentionBackend | None] = contextvars.ContextVar("uva_kit_attention", default=None)


def build_backend(name: str) -> AttentionBackend:
    from uva_kit.registry import default_registry

    return default_registry().get("attention", name).build()


@contextlib.contextmanager
def use(name: str) -> Iterator[AttentionBackend]:
    """Run every model's attention through backend ``name`` inside the block."""
    token = _override.set(build_backend(name))
    try:
        yield _override.get()
    finally:
        _override.reset(token)


class AttentionDispatcher(AttentionBackend):
    """The attention every block of a model calls; forwards to the active backend."""

    name = "dispatch"

    def __init__(self, configured: AttentionBackend):
        super().__init__()
        chosen = os.environ.get(ENV_VAR, "").strip()
        self.backend = build_backend(chosen) if chosen else configured

    def set_backend(self, name: str) -> None:
        self.backend = build_backend(name)

    @property
    def active(self) -> AttentionBackend:
        return _override.get() or self.backend

    def unsupported_reason(self, query: torch.Tensor) -> str | None:
        return self.active.unsupported_reason(query)

    def forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, dropout_p: float = 0.0) -> torch.Tensor:
        backend = self.active
        reason = backend.unsupported_reason(query)
        if reason is not None:
            raise UvaKitError(
                f"attention backend '{backend.name}' cannot run on {query.device.type}/{query.dtype} inputs with head size "
                f"{query.shape[-1]}: {reason}. Choose another with {ENV_VAR}=..., uva_kit.attention.dispatch.use(...) "
                "or model.set_attention_backend(...) (see `uva-kit info`)."
            )
        return backend(query, key, value, dropout_p)
