"""Registry contract: every registered component of every slot builds from its default spec with the
slot's documented build context (docs/model.md, "Slot contracts"), and honours the slot's interface."""

from __future__ import annotations

import warnings

import attrs
import pytest
import torch

import uva_kit
from uva_kit.model.grid import TokenGrid
from uva_kit.registry import SLOTS, default_registry
from uva_kit.spec import ComponentSpec, DiffusionSpec, LayoutSpec, from_dict, to_dict

GRID = TokenGrid(frames=4, height=4, width=4, channels=4)
WIDTH = 16


def text_encoder():
    return uva_kit.registry.get("text_encoder", "task_embedding").build()


def context_for(slot: str) -> dict:
    """The small build context each slot's factories receive."""
    from uva_kit.modality.base import ModalityContext

    if slot == "backbone":
        return {"streams": 3, "grid": GRID, "attention": uva_kit.registry.get("attention", "sdpa").build(), "prefix_tokens": 0}
    if slot == "head":
        return {"in_channels": 2, "cond_dim": WIDTH, "grid": GRID, "num_outputs": 16, "diffusion": DiffusionSpec()}
    if slot == "sampler":
        return {"diffusion": DiffusionSpec()}
    if slot == "modality":
        return {"context": ModalityContext(width=WIDTH, layout=LayoutSpec(), grid=GRID, diffusion=DiffusionSpec(),
                                           text_encoder=text_encoder())}
    return {}


def default_spec(component, tmp_path_factory):
    """The default spec, except where a component needs a local file (clip: a tiny saved model)."""
    if (component.slot, component.name) == ("text_encoder", "clip"):
        from model.test_text_encoders import save_tiny_clip  # noqa: PLC0415

        return component.spec_class(type="clip", path=save_tiny_clip(tmp_path_factory.mktemp("clip")))
    return component.default_spec()


def check_interface(slot: str, built) -> None:
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


@pytest.mark.parametrize("component", default_registry().components(), ids=lambda c: f"{c.slot}-{c.name}")
def test_component_builds_from_its_default_spec(component, tmp_path_factory):
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. kl_f16 without a checkpoint warns about random weights
        built = component.build(default_spec(component, tmp_path_factory), **context_for(component.slot))
        check_interface(component.slot, built)


@pytest.mark.parametrize("component", default_registry().components(), ids=lambda c: f"{c.slot}-{c.name}")
def test_spec_class_is_a_frozen_component_spec_that_round_trips(component):
    spec_class = component.spec_class
    assert attrs.has(spec_class) and issubclass(spec_class, ComponentSpec)
    spec = component.default_spec() if (component.slot, component.name) != ("text_encoder", "clip") else \
        spec_class(type="clip", path="/some/local/clip")
    assert spec.type == component.name
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        spec.type = "other"
    assert from_dict(spec_class, to_dict(spec)) == spec


@pytest.mark.parametrize("component", default_registry().components(), ids=lambda c: f"{c.slot}-{c.name}")
def test_component_is_documented_and_attributed(component):
    assert component.slot in SLOTS
    assert component.description, f"{component.slot} '{component.name}' has no description"
    assert component.provider.plugin
