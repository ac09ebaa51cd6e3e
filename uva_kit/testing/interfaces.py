"""The checks every registered component must pass: it builds with its slot's context and honours the
slot's interface; its spec class is a frozen ``ComponentSpec`` that round-trips; it is documented."""

from __future__ import annotations

import pytest

from uva_kit.testing.contexts import GRID, WIDTH


def check_interface(slot: str, built) -> None:
    """Assert that ``built`` (made with ``build_context(slot)``) does what its slot promises."""
    import torch

    import uva_kit
    from uva_kit.spec import DiffusionSpec

    if slot == "encoder":
        frames = torch.rand(1, 2, 3, 4 * built.downsample, 4 * built.downsample)
        latents = built.encode(frames)
        assert latents.shape == (1, 2, built.latent_channels, 4, 4)
        decoded = built.decode(latents)
        assert decoded.shape == frames.shape and decoded.min() >= 0 and decoded.max() <= 1
    elif slot == "attention":
        query, key, value = torch.randn(3, 2, 4, 10, 16, generator=torch.Generator().manual_seed(0)).unbind(0)
        if built.unsupported_reason(query) is not None:
            pytest.skip(f"attention backend: {built.unsupported_reason(query)}")
        reference = uva_kit.registry.get("attention", "math").build()
        torch.testing.assert_close(built(query, key, value), reference(query, key, value), rtol=1e-4, atol=1e-5)
        with pytest.raises(ValueError, match="attention expects"):
            built(query, key[..., :8], value)
    elif slot == "backbone":
        streams = [torch.randn(2, GRID.length, built.width) for _ in range(3)]
        assert built(streams).shape == (2, GRID.length, built.width)
    elif slot == "head":
        z = torch.randn(2, GRID.length, WIDTH)
        rows = built.conditions(z).shape[1]
        assert torch.isfinite(built.loss(z, torch.randn(2, rows, 2)))
        sampler = uva_kit.registry.get("sampler", "ddim").build(diffusion=DiffusionSpec())
        assert built.sample(z, sampler, steps=2).shape == (2, rows, 2)
    elif slot == "sampler":
        denoiser = uva_kit.registry.get("head", "token").build(in_channels=2, cond_dim=WIDTH).net
        assert built.sample(denoiser, torch.randn(3, WIDTH), 2, steps=2).shape == (3, 2)
    elif slot == "masking":
        assert built.future_mask(2, 4, 16).shape == (2, 4, 16)
    elif slot == "mode":
        assert {built.stream_state(s) for s in ("video", "history", "action")} <= {"given", "absent", "masked"}
    elif slot == "modality":
        assert built.streams or built.prefix_tokens
        for stream in built.streams:
            assert built.absent_token(stream).shape == (1, 1, WIDTH)
    elif slot == "text_encoder":
        assert built(["push the block"]).shape == (1, built.output_dim)


def check_spec_class(component, spec) -> None:
    """``spec`` (an instance of the component's spec class) is a frozen ComponentSpec that round-trips."""
    import attrs

    from uva_kit.spec import ComponentSpec, from_dict, to_dict

    spec_class = component.spec_class
    assert attrs.has(spec_class) and issubclass(spec_class, ComponentSpec)
    assert isinstance(spec, spec_class) and spec.type == component.name
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        spec.type = "other"
    assert from_dict(spec_class, to_dict(spec)) == spec


def check_documented(component) -> None:
    """The component has a description (shown by ``uva-kit plugins``) and names who provides it."""
    from uva_kit.registry import SLOTS

    assert component.slot in SLOTS
    assert component.description, f"{component.slot} '{component.name}' has no description"
    assert component.provider.plugin and component.provider.distribution, (
        f"{component.slot} '{component.name}' was not registered by an installed distribution: {component.provider}"
    )
