"""uva_kit.save / uva_kit.load: self-describing, atomic, and refusing anything incomplete or mismatched."""

from __future__ import annotations

import json

import pytest
import torch

import uva_kit
from uva_kit.errors import CheckpointError
from uva_kit.pretrained import CONFIG_FILE, NORMALIZATION_FILE, WEIGHTS_FILE, model_directory


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    torch.manual_seed(0)
    model = uva_kit.build("pusht-tiny")
    model.action_normalizer.set_range([10.0, 20.0], [500.0, 480.0])
    directory = uva_kit.save(model, tmp_path_factory.mktemp("models") / "tiny")
    return model, directory


def history():
    return torch.rand(2, 4, 3, 32, 32, generator=torch.Generator().manual_seed(1))


def test_round_trip_gives_the_same_predictions_and_statistics(saved):
    model, directory = saved
    loaded = uva_kit.load(directory)
    assert set(p.name for p in directory.iterdir()) == {CONFIG_FILE, WEIGHTS_FILE, NORMALIZATION_FILE}
    torch.testing.assert_close(loaded.action_normalizer.high, torch.tensor([500.0, 480.0]))
    expected = model.predict_actions(history(), generator=torch.Generator().manual_seed(5))
    actual = loaded.predict_actions(history(), generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(actual, expected)
    config = json.loads((directory / CONFIG_FILE).read_text())
    assert config["spec"]["name"] == "pusht-tiny" and config["uva_kit_version"] == uva_kit.__version__


def test_a_model_trained_from_encoder_weights_loads_without_their_file(tmp_path, monkeypatch):
    """encoder.checkpoint names the pretrained weights a model started from (e.g. the paper's kl16.ckpt); the saved
    model holds the encoder's weights itself, so it loads where that file is not, e.g. on another machine."""
    from safetensors.torch import save_file

    from uva_kit.encoder.checkpoint import RandomWeightsWarning

    monkeypatch.chdir(tmp_path)
    with pytest.warns(RandomWeightsWarning):  # the weights saved as "pretrained" below
        encoder = uva_kit.build(uva_kit.load_spec("pusht-tiny", ["encoder.type=conv_vae"])).encoder
    save_file({name: value.contiguous() for name, value in encoder.state_dict().items()}, "vae.safetensors")
    model = uva_kit.build(uva_kit.load_spec("pusht-tiny", ["encoder.type=conv_vae", "encoder.checkpoint=vae.safetensors"]))
    directory = uva_kit.save(model, tmp_path / "model")
    (tmp_path / "vae.safetensors").unlink()
    loaded = uva_kit.load(directory)
    assert loaded.spec.encoder.checkpoint is None
    for name, value in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[name], value, rtol=0, atol=0)


@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")  # torch importing dynamo
def test_a_compiled_model_saves_as_the_model_it_wraps(saved, tmp_path):
    model, directory = saved
    uva_kit.save(torch.compile(model), tmp_path / "compiled")
    assert (tmp_path / "compiled" / WEIGHTS_FILE).read_bytes() == (directory / WEIGHTS_FILE).read_bytes()


def training_run(model, out):
    """A run folder as training writes it: complete checkpoints 1 and 2, ``last`` naming 2."""
    for step in ("00000001", "00000002"):
        uva_kit.save(model, out / "checkpoints" / step / "pretrained_model")
        (out / "checkpoints" / step / "training_state").mkdir()
        (out / "checkpoints" / step / "training_state" / "state.json").write_text("{}")
    (out / "checkpoints" / "last").write_text("00000002\n")
    return out


def test_a_checkpoint_or_a_run_folder_loads_its_model(saved, tmp_path):
    run = training_run(saved[0], tmp_path / "run")
    assert model_directory(run) == run / "checkpoints" / "00000002" / "pretrained_model"
    assert model_directory(run / "checkpoints" / "00000001") == run / "checkpoints" / "00000001" / "pretrained_model"
    assert model_directory(saved[1]) == saved[1]
    torch.testing.assert_close(uva_kit.load(run).action_normalizer.high, torch.tensor([500.0, 480.0]))


def test_the_cli_says_which_checkpoint_of_a_run_it_loads(saved, tmp_path, capsys):
    from uva_kit.eval.loading import load_model

    run = training_run(saved[0], tmp_path / "run")
    _, directory = load_model(run, "cpu")
    assert directory == run / "checkpoints" / "00000002" / "pretrained_model"
    assert capsys.readouterr().out == f"{run}: using {directory}\n"
    load_model(directory, "cpu")
    assert capsys.readouterr().out == ""  # a model folder is used as given


def test_a_folder_that_is_no_model_checkpoint_or_run_is_refused(saved, tmp_path):
    with pytest.raises(CheckpointError, match=r"nothing is not a model folder \(it does not exist\); .* a training run OUT"):
        uva_kit.load(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match=r"no config\.json in it or in .*pretrained_model\); pass a folder written"):
        uva_kit.load(tmp_path / "empty")
    run = training_run(saved[0], tmp_path / "run")
    (run / "checkpoints" / "last").write_text("00000003\n")  # pruned or never completed
    with pytest.raises(CheckpointError, match="points at 00000003, which is missing or incomplete"):
        uva_kit.load(run)


def copy_of(directory, tmp_path):
    import shutil

    target = tmp_path / "copy"
    shutil.copytree(directory, target)
    return target


def test_truncated_weights_are_named(saved, tmp_path):
    broken = copy_of(saved[1], tmp_path)
    data = (broken / WEIGHTS_FILE).read_bytes()
    (broken / WEIGHTS_FILE).write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"model.safetensors is truncated or corrupt"):
        uva_kit.load(broken)


def test_flipped_byte_is_detected(saved, tmp_path):
    broken = copy_of(saved[1], tmp_path)
    data = bytearray((broken / WEIGHTS_FILE).read_bytes())
    data[-3] ^= 0xFF
    (broken / WEIGHTS_FILE).write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="checksum does not match"):
        uva_kit.load(broken)


@pytest.mark.parametrize("missing", [CONFIG_FILE, WEIGHTS_FILE, NORMALIZATION_FILE])
def test_missing_file_is_named(saved, tmp_path, missing):
    broken = copy_of(saved[1], tmp_path)
    (broken / missing).unlink()
    with pytest.raises(CheckpointError, match=missing.replace(".", r"\.")):
        uva_kit.load(broken)


@pytest.mark.parametrize("files, message", [
    ({}, r"config\.json has no checksum for model\.safetensors, normalization\.safetensors"),
    ({WEIGHTS_FILE: "x", NORMALIZATION_FILE: {}}, r"the entry of model\.safetensors must be"),
    ({WEIGHTS_FILE: {"bytes": 1}, NORMALIZATION_FILE: {}}, r"the entry of model\.safetensors must be"),
    ([], "the file checksums must be a table, got list"),
])
def test_edited_checksum_list_is_refused(saved, tmp_path, files, message):
    broken = copy_of(saved[1], tmp_path)
    config = json.loads((broken / CONFIG_FILE).read_text())
    config["files"] = files
    (broken / CONFIG_FILE).write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=message):
        uva_kit.load(broken)


def test_spec_that_does_not_match_the_weights_lists_the_keys(saved, tmp_path):
    broken = copy_of(saved[1], tmp_path)
    config = json.loads((broken / CONFIG_FILE).read_text())
    config["spec"]["backbone"]["width"] = 48
    (broken / CONFIG_FILE).write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="does not match the model built from its spec") as info:
        uva_kit.load(broken)
    assert "shape mismatch" in str(info.value) and "backbone" in str(info.value)


def test_invalid_json_and_missing_plugin(saved, tmp_path):
    broken = copy_of(saved[1], tmp_path)
    config = json.loads((broken / CONFIG_FILE).read_text())
    config["plugins"] = {"not_installed": {"distribution": "uva-kit-not-installed", "version": "0.1.0"}}
    (broken / CONFIG_FILE).write_text(json.dumps(config))
    with pytest.raises(CheckpointError,
                       match=r"needs plugins that are not installed: not_installed \(pip install uva-kit-not-installed\)"):
        uva_kit.load(broken)
    (broken / CONFIG_FILE).write_text("{ not json")
    with pytest.raises(CheckpointError, match="invalid JSON"):
        uva_kit.load(broken)
    (broken / CONFIG_FILE).write_text("[1, 2]")
    with pytest.raises(CheckpointError, match="is not a uva_kit model config"):
        uva_kit.load(broken)


def test_failed_save_leaves_the_previous_model_intact(saved, tmp_path, monkeypatch):
    directory = copy_of(saved[1], tmp_path)
    before = (directory / WEIGHTS_FILE).read_bytes()

    def explode(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("safetensors.torch.save_file", explode)
    with pytest.raises(OSError, match="disk full"):
        uva_kit.save(saved[0], directory)
    assert (directory / WEIGHTS_FILE).read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["copy"]  # no temporary folder left behind
