"""Training-side calls keep their random draws and outputs on the right device: run on the CPU, and on a
CUDA device when there is one (marked ``gpu``)."""

from __future__ import annotations

import warnings

import pytest
import torch

import uva_kit
from uva_kit.encoder.conv_vae import ConvVAEEncoder, ConvVAESpec
from uva_kit.encoder.latent_cache import LatentCache

DEVICES = [
    "cpu",
    pytest.param("cuda", marks=[pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(),
                                                                    reason="needs a CUDA device")]),
]
# the patch encoder with MAR masking, and a sampling VAE encoder (its posterior draws use the generator too)
SPECS = {"patch": ("pusht-tiny", ()),
         "conv_vae": ("pusht-tiny", ("encoder.type=conv_vae", "encoder.ch=16", "encoder.ch_mult=[1, 2]",
                                     "encoder.z_channels=4", "encoder.norm_groups=8"))}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("encoder", list(SPECS))
@pytest.mark.parametrize("mode", [None, "policy"])
def test_compute_loss_draws_everything_from_a_generator_on_the_models_device(device, encoder, mode, batch_factory):
    """With mode=None the mode is drawn from the mixture and the MAR mask ratio from a truncated normal (both
    small draws made on the generator's device), then masks, timesteps, noise and posterior samples."""
    preset, overrides = SPECS[encoder]
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # random VAE weights are expected here
        model = uva_kit.build(uva_kit.load_spec(preset, overrides)).to(device).eval()  # eval: no dropout draws
    batch = {key: value.to(device) for key, value in batch_factory().items()}

    def loss(seed: int) -> torch.Tensor:
        return model.compute_loss(batch, mode=mode, generator=torch.Generator(device).manual_seed(seed))[0]

    first = loss(3)
    assert first.device.type == device and torch.isfinite(first)
    assert torch.equal(loss(3), first)  # no draw came from the global RNG
    assert not torch.equal(loss(4), first)


@pytest.mark.parametrize("device", DEVICES)
def test_latent_cache_returns_cpu_tensors_on_a_miss_as_on_a_hit(device, tmp_path):
    """Dataset items stay on the CPU (DataLoader workers must not touch CUDA, and a batch mixes hits and misses)
    whichever device the encoder runs on."""
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        encoder = ConvVAEEncoder(ConvVAESpec(type="conv_vae", ch=16, ch_mult=(1, 2), z_channels=4, patch_size=2,
                                             norm_groups=8)).to(device)
    frames = torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(0)).to(device)
    miss = LatentCache(tmp_path, encoder).latents_for("episode_0", frames)
    hit = LatentCache(tmp_path, encoder).latents_for("episode_0", frames)
    for latents in (miss, hit):
        assert latents.mean.device.type == "cpu" and latents.logvar.device.type == "cpu"
    assert torch.equal(miss.mean, hit.mean) and torch.equal(miss.logvar, hit.logvar)


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
def test_a_model_cast_to_another_dtype_takes_float32_inputs_and_answers_in_its_dtype(dtype, batch_factory):
    """``model.to(dtype)`` (a float64 oracle, a bf16 model): inputs are cast to the model's dtype, as to its device."""
    torch.manual_seed(0)
    model = uva_kit.build("pusht-tiny").to(dtype)
    assert model.dtype == dtype
    batch = batch_factory()
    history, generator = batch["history_frames"], torch.Generator().manual_seed(0)
    assert model.predict_actions(history, generator=generator).dtype == dtype
    assert model.forward_dynamics(history, batch["actions"], generator=generator).dtype == dtype
    assert model.plan(history, generator=generator).frames.dtype == dtype
    assert uva_kit.Policy(model).select_action({"image": history[:, 0]}).dtype == dtype
    loss, _ = model.train().compute_loss(batch, mode="joint", generator=generator)
    assert torch.isfinite(loss)
