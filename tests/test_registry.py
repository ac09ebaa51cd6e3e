"""Registries: one per slot, strict lookups, duplicate names refused with both providers named."""

from __future__ import annotations

import pytest

import uva_kit
from uva_kit.errors import RegistryError
from uva_kit.registry import SLOTS, Provider, Registry


def test_every_slot_of_the_design_exists():
    assert set(SLOTS) == {
        "encoder", "backbone", "modality", "head", "sampler", "masking", "mode", "attention", "text_encoder"
    }


def test_public_list_and_get():
    assert "patch" in uva_kit.registry.list("encoder")
    assert uva_kit.registry.list("attention") == sorted(uva_kit.registry.list("attention"))
    component = uva_kit.registry.get("encoder", "patch")
    assert component.slot == "encoder" and component.name == "patch"
    assert component.provider.plugin == "builtin" and component.provider.distribution == "uva_kit"


def test_unknown_name_and_slot_suggest_the_closest():
    with pytest.raises(RegistryError, match=r"Unknown encoder 'pach'.*Did you mean 'patch'\?"):
        uva_kit.registry.get("encoder", "pach")
    with pytest.raises(RegistryError, match=r"Unknown slot 'encodr'.*Did you mean 'encoder'\?"):
        uva_kit.registry.list("encodr")


def test_duplicate_name_is_an_error_naming_both_providers():
    registry = Registry()
    with registry.providing(Provider("first", "pkg-one", "1.0")):
        registry.register("head", "force", spec="a:B", factory="a:C")
    with registry.providing(Provider("second", "pkg-two", "2.0")):
        with pytest.raises(RegistryError) as info:
            registry.register("head", "force", spec="a:B", factory="a:C")
    message = str(info.value)
    assert "head 'force' is registered twice" in message
    assert "plugin 'first' from pkg-one 1.0" in message and "plugin 'second' from pkg-two 2.0" in message


def test_a_failing_registration_block_is_undone():
    registry = Registry()
    with pytest.raises(RuntimeError):
        with registry.providing(Provider("half-broken")):
            registry.register("head", "ok_head", spec="a:B", factory="a:C")
            raise RuntimeError("boom")
    assert registry.list("head") == []


def test_names_must_be_identifiers_and_references_well_formed():
    registry = Registry()
    with pytest.raises(RegistryError, match="identifiers"):
        registry.register("head", "not a name", spec="a:B", factory="a:C")
    component = registry.register("head", "lazy", spec="no_colon_here", factory="a:C")
    with pytest.raises(RegistryError, match="expected 'package.module:attribute'"):
        _ = component.spec_class


def test_lazy_references_resolve_only_when_used():
    registry = Registry()
    component = registry.register("head", "later", spec="uva_kit.spec:ComponentSpec", factory="json:dumps")
    assert component.spec_class is uva_kit.spec.ComponentSpec
    bad = registry.register("head", "missing_attr", spec="uva_kit.spec:Nope", factory="json:dumps")
    with pytest.raises(RegistryError, match="has no attribute 'Nope'"):
        _ = bad.spec_class
