"""Contract tests, parametrized over every registered component of every slot.

A new component (built-in or from a plugin installed in the test environment) is tested here
automatically: its spec round-trips and it builds from its defaults; slot-specific checks follow.
"""

from __future__ import annotations

import attrs
import pytest
import torch

import uva_kit
from uva_kit.registry import SLOTS, default_registry
from uva_kit.spec import ComponentSpec, from_dict, to_dict

ALL_COMPONENTS = [pytest.param(c, id=f"{c.slot}-{c.name}") for c in default_registry().components()]


def components_of(slot_name: str):
    return [pytest.param(c, id=c.name) for c in default_registry().components(slot_name)]


@pytest.mark.parametrize("component", ALL_COMPONENTS)
def test_spec_class_is_a_frozen_component_spec_that_round_trips(component):
    spec_class = component.spec_class
    assert attrs.has(spec_class) and issubclass(spec_class, ComponentSpec)
    spec = component.default_spec()
    assert spec.type == component.name
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        spec.type = "other"
    assert from_dict(spec_class, to_dict(spec)) == spec


@pytest.mark.parametrize("component", ALL_COMPONENTS)
def test_component_is_documented_and_attributed(component):
    assert component.slot in SLOTS
    assert component.description, f"{component.slot} '{component.name}' has no description"
    assert component.provider.plugin


@pytest.mark.parametrize("component", components_of("encoder"))
def test_encoder_contract(component):
    encoder = component.build()
    assert isinstance(encoder, torch.nn.Module)
    size = encoder.downsample * 2
    frames = torch.rand(2, 3, 3, size, size)
    with torch.no_grad():
        latents = encoder.encode(frames)
        assert latents.shape == (2, 3, encoder.latent_channels, 2, 2)
        decoded = encoder.decode(latents)
    assert decoded.shape == frames.shape
    assert decoded.min() >= 0 and decoded.max() <= 1


@pytest.mark.parametrize("component", components_of("attention"))
def test_attention_contract_matches_the_math_reference(component):
    backend = component.build()
    reference = uva_kit.registry.get("attention", "math").build()
    generator = torch.Generator().manual_seed(0)
    query, key, value = torch.randn(3, 2, 4, 10, 16, generator=generator).unbind(0)
    if backend.unsupported_reason(query) is not None:
        pytest.skip(f"{component.name}: {backend.unsupported_reason(query)}")
    torch.testing.assert_close(backend(query, key, value), reference(query, key, value), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="attention expects"):
        backend(query, key[..., :8], value)
