"""kl_f16: the original architecture (parameter names, shapes, count), loading its weights, and errors."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from uva_kit.encoder.checkpoint import RandomWeightsWarning
from uva_kit.encoder.kl_f16 import KLF16Encoder, KLF16Spec
from uva_kit.errors import CheckpointError

SHAPES_FILE = Path(__file__).parent / "data" / "kl16_state_dict_shapes.txt"


def original_shapes() -> dict[str, tuple[int, ...]]:
    """The names and shapes of MAR's kl16.ckpt, as listed from the original implementation."""
    lines = [line.split() for line in SHAPES_FILE.read_text().splitlines() if not line.startswith("#")]
    return {name: tuple(int(d) for d in dims.split(",")) for name, dims in lines}


def random_original_state(seed: int = 0) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return {name: torch.randn(shape, generator=generator) for name, shape in original_shapes().items()}


@pytest.fixture(scope="module")
def encoder() -> KLF16Encoder:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RandomWeightsWarning)
        return KLF16Encoder(KLF16Spec(type="kl_f16"))


def test_parameter_count_and_frozen(encoder):
    assert sum(p.numel() for p in encoder.parameters()) == 66_456_019
    assert not any(p.requires_grad for p in encoder.parameters())


def test_names_and_shapes_match_the_original(encoder):
    mine = {name: tuple(t.shape) for name, t in encoder.autoencoder.state_dict().items()}
    assert mine == original_shapes()


def test_encode_decode_shapes_and_scale(encoder):
    frames = torch.rand(1, 2, 3, 16, 32)
    mean, logvar = encoder.posterior(frames)
    assert mean.shape == logvar.shape == (1, 2, 16, 1, 2)
    raw_mean, _ = encoder.autoencoder.moments(frames.flatten(0, 1) * 2 - 1)
    torch.testing.assert_close(mean.flatten(0, 1), raw_mean * 0.2325)
    decoded = encoder.decode(mean)
    assert decoded.shape == frames.shape
    assert decoded.min() >= 0 and decoded.max() <= 1


def test_posterior_sampling_is_a_spec_option(encoder):
    frames = torch.rand(1, 1, 3, 16, 16)
    mean, _ = encoder.posterior(frames)
    assert not torch.equal(encoder.encode(frames), encoder.encode(frames))
    encoder.sample_posterior = False
    try:
        torch.testing.assert_close(encoder.encode(frames), mean)
    finally:
        encoder.sample_posterior = True


def test_frame_size_must_be_a_multiple_of_16(encoder):
    with pytest.raises(ValueError, match="multiple"):
        encoder.encode(torch.rand(1, 1, 3, 40, 40))


def test_random_weights_warn():
    with pytest.warns(RandomWeightsWarning, match="encoder.checkpoint"):
        KLF16Encoder(KLF16Spec(type="kl_f16"))


@pytest.mark.parametrize("suffix", [".ckpt", ".safetensors"])
def test_loads_original_key_names(tmp_path, suffix):
    state = random_original_state()
    path = tmp_path / f"kl16{suffix}"
    if suffix == ".ckpt":
        torch.save({"model": state}, path)  # the layout of MAR's kl16.ckpt
    else:
        save_file(state, path)
    loaded = KLF16Encoder(KLF16Spec(type="kl_f16", checkpoint=str(path))).autoencoder.state_dict()
    assert loaded.keys() == state.keys()
    assert all(torch.equal(loaded[name], state[name]) for name in state)


def test_missing_checkpoint_is_an_error(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        KLF16Encoder(KLF16Spec(type="kl_f16", checkpoint=str(tmp_path / "kl16.ckpt")))


def test_missing_unexpected_and_mismatched_keys_are_listed(encoder, tmp_path):
    from uva_kit.encoder.checkpoint import load_state

    state = random_original_state()
    del state["decoder.conv_out.bias"]
    state["encoder.extra.weight"] = torch.zeros(1)
    state["quant_conv.weight"] = torch.zeros(16, 32, 1, 1)
    with pytest.raises(CheckpointError) as error:
        load_state(encoder.autoencoder, state, "kl16.ckpt")
    message = str(error.value)
    assert "1 missing: decoder.conv_out.bias" in message
    assert "1 unexpected: encoder.extra.weight" in message
    assert "quant_conv.weight (checkpoint (16, 32, 1, 1), model (32, 32, 1, 1))" in message


def test_policy_prefixed_weights_load(encoder):
    from uva_kit.encoder.checkpoint import load_state

    state = random_original_state(seed=1)
    policy_state = {f"vae_model.{k}": v for k, v in state.items()} | {"model.z_proj.weight": torch.zeros(768, 16)}
    load_state(encoder.autoencoder, policy_state, "policy.safetensors")
    assert torch.equal(encoder.autoencoder.quant_conv.weight, state["quant_conv.weight"])


def test_corrupt_and_unsafe_checkpoints_are_errors(tmp_path):
    from uva_kit.encoder.checkpoint import read_state_dict

    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError, match="not a readable safetensors"):
        read_state_dict(corrupt)
    unsafe = tmp_path / "unsafe.ckpt"
    torch.save({"model": {"w": torch.zeros(1)}, "cfg": Path("x")}, unsafe)
    with pytest.raises(CheckpointError, match="other than tensors"):
        read_state_dict(unsafe)
    not_a_state_dict = tmp_path / "list.ckpt"
    torch.save([torch.zeros(1)], not_a_state_dict)
    with pytest.raises(CheckpointError, match="not a state dict"):
        read_state_dict(not_a_state_dict)
