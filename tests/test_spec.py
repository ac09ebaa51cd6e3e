"""Specs: strict parsing with helpful errors, overrides, file formats, round trips, migrations."""

from __future__ import annotations

import json

import attrs
import pytest
import yaml

from uva_kit import load_spec
from uva_kit.errors import SpecError
from uva_kit.registry import default_registry, reload
from uva_kit.spec import ComponentSpec, UVASpec, from_dict, migrations, spec_from_dict, to_dict


@attrs.frozen
class ToyBackboneSpec(ComponentSpec):
    width: int
    depth: int = 2
    dropout: float = 0.1
    norm: str = "layer"


@pytest.fixture
def toy_backbone():
    """A backbone 'toy' with a required field, registered for the duration of one test."""
    registry = default_registry()
    registry.register("backbone", "toy", spec=ToyBackboneSpec, factory=lambda spec, **ctx: spec)
    yield
    reload()


TOY_TOML = """
name = "toy"
[layout]
image_size = 64
[encoder]
type = "patch"
patch_size = 8
[backbone]
type = "toy"
width = 32
"""


@pytest.fixture
def toy_file(tmp_path, toy_backbone):
    path = tmp_path / "toy.toml"
    path.write_text(TOY_TOML)
    return path


def error_of(fn, *args, **kwargs) -> SpecError:
    with pytest.raises(SpecError) as info:
        fn(*args, **kwargs)
    return info.value


def test_file_parses_into_frozen_spec_with_defaults(toy_file):
    spec = load_spec(toy_file)
    assert isinstance(spec, UVASpec)
    assert spec.backbone == ToyBackboneSpec(type="toy", width=32)
    assert spec.encoder.patch_size == 8 and spec.attention.type == "sdpa"
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        spec.name = "changed"


def test_round_trip_spec_dict_spec(toy_file):
    spec = load_spec(toy_file, ["backbone.depth=5", "layout.action_dim=10"])
    data = to_dict(spec)
    assert data["backbone"] == {"type": "toy", "width": 32, "depth": 5, "dropout": 0.1, "norm": "layer"}
    assert spec_from_dict(json.loads(json.dumps(data))) == spec


def test_print_spec_shows_the_whole_spec_as_yaml():
    spec = load_spec("pusht-tiny")
    assert str(spec).startswith("name: pusht-tiny\n")
    assert spec_from_dict(yaml.safe_load(str(spec))) == spec


def test_same_spec_from_toml_yaml_and_json(toy_file, tmp_path):
    from_toml = load_spec(toy_file)
    data = to_dict(from_toml)
    (tmp_path / "toy.json").write_text(json.dumps(data))
    (tmp_path / "toy.yaml").write_text(yaml.safe_dump(data))
    assert load_spec(tmp_path / "toy.json") == from_toml
    assert load_spec(tmp_path / "toy.yaml") == from_toml


def test_typo_in_key_names_path_and_suggests(toy_file):
    err = error_of(load_spec, toy_file, ["backbone.dpeth=3"])
    assert err.path == "backbone.dpeth"
    assert "unknown key 'dpeth'" in str(err) and "Did you mean 'depth'?" in str(err)
    assert "width" in str(err)  # lists the valid keys


def test_typo_in_top_level_key_from_file(tmp_path, toy_backbone):
    path = tmp_path / "bad.toml"
    path.write_text(TOY_TOML.replace("[layout]", "[laoyut]"))
    err = error_of(load_spec, path)
    assert err.path == "laoyut" and "Did you mean 'layout'?" in str(err)


def test_wrong_type_name_lists_registered_choices(toy_file):
    err = error_of(load_spec, toy_file, ["encoder.type=pach"])
    assert err.path == "encoder.type"
    assert "Unknown encoder 'pach'" in str(err) and "Did you mean 'patch'?" in str(err)


def test_string_where_int_belongs(tmp_path, toy_backbone):
    path = tmp_path / "bad.toml"
    path.write_text(TOY_TOML.replace("width = 32", 'width = "32"'))
    err = error_of(load_spec, path)
    assert err.path == "backbone.width"
    assert "expected int, got str '32'" in str(err)


def test_bool_is_not_an_int_and_int_is_a_float(toy_file):
    err = error_of(load_spec, toy_file, ["backbone.depth=true"])
    assert "expected int, got bool" in str(err)
    assert load_spec(toy_file, ["backbone.dropout=0"]).backbone.dropout == 0.0


def test_missing_required_field(tmp_path, toy_backbone):
    path = tmp_path / "bad.toml"
    path.write_text(TOY_TOML.replace("width = 32", ""))
    err = error_of(load_spec, path)
    assert err.path == "backbone" and "missing required key 'width'" in str(err)


def test_missing_type_in_slot_table(tmp_path, toy_backbone):
    path = tmp_path / "bad.toml"
    path.write_text(TOY_TOML.replace('type = "toy"', ""))
    err = error_of(load_spec, path)
    assert err.path == "backbone" and "missing required key 'type'" in str(err) and "toy" in str(err)


def test_validator_errors_name_the_table(toy_file):
    err = error_of(load_spec, toy_file, ["layout.image_size=-4"])
    assert err.path == "layout" and "image_size must be positive" in str(err)


@pytest.mark.parametrize("override, message", [
    ("backbone.mlp_ratio=nan", "mlp_ratio must be a finite number, got nan"),
    ("training.lr=inf", "lr must be a finite number, got inf"),
    ("sampler.temperature=inf", "temperature must be a finite number, got inf"),
    ("masking.mean=nan", "mean must be a finite number, got nan"),
    ("training.grad_clip=0", "grad_clip must be positive, got 0"),
    ("training.grad_clip=-1.0", "grad_clip must be positive, got -1.0"),
    ("training.val_ratio=1.0", "val_ratio must be in [0, 1), got 1.0"),  # what the episode split accepts
])
def test_values_that_make_no_sense_are_spec_errors(override, message):
    assert message in str(error_of(load_spec, "pusht-tiny", [override]))


def test_grad_clip_may_be_off_or_positive():
    assert load_spec("pusht-tiny").training.grad_clip is None
    assert load_spec("pusht-tiny", ["training.grad_clip=0.5"]).training.grad_clip == 0.5


def test_more_sampling_steps_than_training_steps_is_refused_at_load():
    err = error_of(load_spec, "pusht-tiny", ["sampler.steps=2000"])
    assert err.path == "sampler.steps" and "diffusion.train_steps (1000)" in str(err) and "at most 1000" in str(err)
    err = error_of(load_spec, "pusht-tiny", ["diffusion.train_steps=10"])
    assert err.path == "sampler.steps"
    assert load_spec("pusht-tiny", ["sampler.steps=1000"]).sampler.steps == 1000


def test_setting_type_resets_the_table_to_the_new_defaults(toy_file):
    spec = load_spec(toy_file, ["attention.type=math"])
    assert spec.attention.type == "math"
    # patch_size belongs to 'patch': after switching type it would be an unknown key, so the table is reset.
    assert load_spec(toy_file, ["encoder.type=patch"]).encoder.patch_size == 8


def test_setting_the_type_a_table_has_keeps_its_options():
    assert load_spec("pusht-tiny").encoder.patch_size == 4  # not patch's default, 8
    assert load_spec("pusht-tiny", ["encoder.type=patch"]).encoder.patch_size == 4
    assert load_spec("pusht-tiny", ["encoder.type=patch", "encoder.patch_size=2"]).encoder.patch_size == 2


def test_override_errors(toy_file):
    assert "must look like" in str(error_of(load_spec, toy_file, ["backbone.depth"]))
    err = error_of(load_spec, toy_file, ["bakbone.depth=2"])
    assert err.path == "bakbone" and "Did you mean 'backbone'?" in str(err)
    err = error_of(load_spec, toy_file, ["name.first=2"])
    assert "not a table" in str(err)


def test_a_single_override_string_is_refused_with_the_list_to_write(toy_file):
    with pytest.raises(SpecError, match=r"overrides must be a list .*: overrides=\['backbone.depth=5'\]"):
        load_spec(toy_file, "backbone.depth=5")


def test_override_values_are_parsed_as_literals(toy_file):
    spec = load_spec(toy_file, ["backbone.norm=rms", "deviations=['fewer layers']", "backbone.dropout=1e-2"])
    assert spec.backbone.norm == "rms" and spec.deviations == ("fewer layers",) and spec.backbone.dropout == 0.01


def test_unknown_preset_and_missing_file():
    assert "neither a spec file nor a preset" in str(error_of(load_spec, "no-such-preset"))
    assert "does not exist" in str(error_of(load_spec, "missing/spec.toml"))


def test_syntax_error_names_the_file(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("name = ")
    err = error_of(load_spec, path)
    assert "broken.toml is not valid TOML" in str(err)


def test_extends_merges_and_a_new_type_replaces_the_table(toy_file, tmp_path):
    child = tmp_path / "child.toml"
    child.write_text(f'extends = "{toy_file}"\nname = "child"\n[backbone]\ndepth = 7\n[encoder]\ntype = "patch"\n')
    spec = load_spec(child)
    assert spec.name == "child" and spec.backbone.width == 32 and spec.backbone.depth == 7
    assert spec.encoder.patch_size == 8  # same type: merged, defaults kept
    loop = tmp_path / "loop.toml"
    loop.write_text(f'extends = "{loop}"\n')
    assert "extends itself" in str(error_of(load_spec, loop))


def test_newer_spec_version_is_refused(toy_file):
    data = to_dict(load_spec(toy_file))
    data["spec_version"] = migrations.CURRENT_SPEC_VERSION + 1
    err = error_of(spec_from_dict, data)
    assert err.path == "spec_version" and "Upgrade uva_kit" in str(err)


def test_migrations_upgrade_old_specs_step_by_step(toy_file, monkeypatch):
    data = to_dict(load_spec(toy_file))
    data["spec_version"] = 1
    data["title"] = data.pop("name")  # pretend version 1 called it 'title' and version 2 renamed it

    def rename_title(old: dict) -> dict:
        old["name"] = old.pop("title")
        return old

    monkeypatch.setattr(migrations, "CURRENT_SPEC_VERSION", 2)
    monkeypatch.setitem(migrations.MIGRATIONS, 1, rename_title)
    upgraded = migrations.migrate(data)
    assert upgraded["spec_version"] == 2 and upgraded["name"] == "toy" and "title" not in upgraded


def test_from_dict_on_plain_attrs_class_is_strict():
    from uva_kit.spec import LayoutSpec

    assert from_dict(LayoutSpec, {"horizon": 16}).horizon == 16
    err = error_of(from_dict, LayoutSpec, {"horizon": 16.5}, "layout")
    assert err.path == "layout.horizon"
    err = error_of(from_dict, LayoutSpec, [1, 2], "layout")
    assert "expected a table" in str(err)


@pytest.mark.parametrize("encoder", ["conv_vae", "kl_f16"])
def test_an_encoder_checkpoint_is_kept_as_an_absolute_path(encoder, tmp_path, monkeypatch):
    """Relative to the working directory when the spec is read, then absolute: a run resumed, or a spec reused,
    from another directory still names the same file."""
    monkeypatch.chdir(tmp_path)
    spec = load_spec("pusht-tiny", [f"encoder.type={encoder}", "encoder.checkpoint=pretrained/vae.safetensors"])
    assert spec.encoder.checkpoint == str(tmp_path / "pretrained" / "vae.safetensors")
    assert load_spec("pusht-tiny", [f"encoder.type={encoder}"]).encoder.checkpoint is None
