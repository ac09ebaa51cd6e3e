"""Attention dispatch: env var, model setting and context manager, with capability checks."""

from __future__ import annotations

import pytest
import torch

from uva_kit.attention import dispatch
from uva_kit.attention.dispatch import AttentionDispatcher, build_backend, use
from uva_kit.errors import UvaKitError


def qkv():
    generator = torch.Generator().manual_seed(3)
    return torch.randn(3, 1, 2, 6, 8, generator=generator).unbind(0)


def test_precedence_context_then_setting_then_env(monkeypatch):
    monkeypatch.setenv(dispatch.ENV_VAR, "math")
    dispatcher = AttentionDispatcher(build_backend("sdpa"))
    assert dispatcher.active.name == "math"  # the environment overrides the spec's choice
    dispatcher.set_backend("sdpa")
    assert dispatcher.active.name == "sdpa"
    with use("math") as backend:
        assert dispatcher.active is backend and backend.name == "math"
    assert dispatcher.active.name == "sdpa"


def test_dispatch_computes_the_same_attention():
    dispatcher = AttentionDispatcher(build_backend("sdpa"))
    query, key, value = qkv()
    with use("math"):
        reference = dispatcher(query, key, value)
    torch.testing.assert_close(dispatcher(query, key, value), reference, rtol=1e-4, atol=1e-5)


def test_unsupported_backend_says_why_and_how_to_switch():
    dispatcher = AttentionDispatcher(build_backend("flash"))
    query, key, value = qkv()
    with pytest.raises(UvaKitError) as info:
        dispatcher(query, key, value)
    message = str(info.value)
    assert "attention backend 'flash' cannot run" in message and dispatch.ENV_VAR in message


def test_unknown_backend_name_suggests():
    with pytest.raises(LookupError, match="Did you mean 'sdpa'"):
        with use("spda"):
            pass
