"""Registry contract: every registered component of every slot (plugins' too, when installed) builds from
its default spec with the slot's documented build context (docs/model.md, "Slot contracts"), honours
the slot's interface, and has a documented, round-tripping spec. The checks live in uva_kit.testing,
which plugin authors run on their own components."""

from __future__ import annotations

import warnings

import pytest
import torch

from uva_kit.registry import default_registry
from uva_kit.testing import build_context, check_documented, check_interface, check_spec_class


def default_spec(component, tmp_path_factory):
    """The default spec, except where a component needs a local file (clip: a tiny saved model)."""
    if (component.slot, component.name) == ("text_encoder", "clip"):
        from model.test_text_encoders import save_tiny_clip  # noqa: PLC0415

        return component.spec_class(type="clip", path=save_tiny_clip(tmp_path_factory.mktemp("clip")))
    return component.default_spec()


@pytest.mark.parametrize("component", default_registry().components(), ids=lambda c: f"{c.slot}-{c.name}")
def test_component_builds_from_its_default_spec(component, tmp_path_factory):
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. kl_f16 without a checkpoint warns about random weights
        built = component.build(default_spec(component, tmp_path_factory), **build_context(component.slot))
        check_interface(component.slot, built)


@pytest.mark.parametrize("component", default_registry().components(), ids=lambda c: f"{c.slot}-{c.name}")
def test_spec_class_is_a_frozen_component_spec_that_round_trips(component):
    spec = component.default_spec() if (component.slot, component.name) != ("text_encoder", "clip") else \
        component.spec_class(type="clip", path="/some/local/clip")
    check_spec_class(component, spec)


@pytest.mark.parametrize("component", default_registry().components(), ids=lambda c: f"{c.slot}-{c.name}")
def test_component_is_documented_and_attributed(component):
    check_documented(component)
