"""The latent cache: hits reuse stored latents, a changed encoder misses, posterior draws are re-sampled."""

from __future__ import annotations

import warnings

import attrs
import pytest
import torch

from uva_kit.encoder.conv_vae import ConvVAEEncoder, ConvVAESpec
from uva_kit.encoder.latent_cache import LatentCache, encoder_fingerprint
from uva_kit.encoder.patch import PatchEncoder, PatchSpec


def tiny_vae(sample_posterior: bool = True) -> ConvVAEEncoder:
    torch.manual_seed(0)
    spec = ConvVAESpec(type="conv_vae", ch=16, ch_mult=(1, 2), z_channels=4, patch_size=2, norm_groups=8,
                       sample_posterior=sample_posterior)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ConvVAEEncoder(spec)


class CountingEncoder(torch.nn.Module):
    """Wraps an encoder and counts the frames it encodes."""

    def __init__(self, inner):
        super().__init__()
        self.inner, self.spec, self.sample_posterior, self.encoded = inner, inner.spec, inner.sample_posterior, 0

    def posterior(self, frames):
        self.encoded += frames.shape[0] * frames.shape[1]
        return self.inner.posterior(frames)

    def encode(self, frames):
        self.encoded += frames.shape[0] * frames.shape[1]
        return self.inner.encode(frames)


@pytest.fixture
def frames():
    return torch.rand(5, 3, 16, 16, generator=torch.Generator().manual_seed(0))


def test_hits_reuse_the_stored_latents(tmp_path, frames):
    encoder = CountingEncoder(tiny_vae())
    cache = LatentCache(tmp_path, encoder, batch_frames=2)
    first = cache.latents_for("episode_0", frames)
    assert encoder.encoded == 5 and first.mean.shape == (5, 4, 4, 4)
    again = LatentCache(tmp_path, encoder).latents_for("episode_0", lambda: pytest.fail("frames loaded on a hit"))
    assert encoder.encoded == 5
    assert torch.equal(again.mean, first.mean) and torch.equal(again.logvar, first.logvar)
    assert LatentCache(tmp_path, encoder).build([("episode_0", frames), ("episode_1", frames)]) == 1
    assert encoder.encoded == 10


def test_cached_moments_match_the_encoder(tmp_path, frames):
    encoder = tiny_vae()
    cached = LatentCache(tmp_path, encoder, batch_frames=2).latents_for("episode_0", frames)
    mean, logvar = encoder.posterior(frames[None])
    torch.testing.assert_close(cached.mean, mean[0])
    torch.testing.assert_close(cached.logvar, logvar[0])


def test_a_changed_weight_invalidates(tmp_path, frames):
    encoder = tiny_vae()
    before = LatentCache(tmp_path, encoder).latents_for("episode_0", frames)
    with torch.no_grad():
        encoder.autoencoder.quant_conv.bias[0] += 1.0
    changed = LatentCache(tmp_path, encoder)
    assert changed.get("episode_0") is None
    after = changed.latents_for("episode_0", frames)
    assert not torch.equal(after.mean, before.mean)


def test_spec_changes_invalidate_but_the_checkpoint_path_does_not():
    vae = tiny_vae()
    assert encoder_fingerprint(vae) != encoder_fingerprint(tiny_vae(sample_posterior=False))
    moved = tiny_vae()
    moved.spec = attrs.evolve(vae.spec, checkpoint="elsewhere")
    assert encoder_fingerprint(vae) == encoder_fingerprint(moved)


def test_posterior_draws_differ_around_the_cached_mean(tmp_path, frames):
    cached = LatentCache(tmp_path, tiny_vae()).latents_for("episode_0", frames)
    generator = torch.Generator().manual_seed(0)
    draws = torch.stack([cached.draw(generator) for _ in range(400)])
    assert not torch.equal(draws[0], draws[1])
    standard_error = cached.logvar.mul(0.5).exp() / 20
    assert ((draws.mean(0) - cached.mean).abs() < 5 * standard_error).all()


def test_deterministic_encoders_store_latents(tmp_path, frames):
    encoder = PatchEncoder(PatchSpec(type="patch", patch_size=4))
    cached = LatentCache(tmp_path, encoder).latents_for("episode_0", frames)
    assert cached.logvar is None
    assert torch.equal(cached.draw(), encoder.encode(frames[None])[0])


@pytest.mark.parametrize("damage", [lambda data: data[: len(data) // 2], lambda data: b"\x07" * len(data)])
def test_a_damaged_item_is_deleted_with_a_warning_and_encoded_again(tmp_path, frames, damage):
    encoder = CountingEncoder(tiny_vae(sample_posterior=False))
    cache = LatentCache(tmp_path, encoder)
    first = cache.latents_for("episode_0", frames)
    path = cache.path("episode_0")
    path.write_bytes(damage(path.read_bytes()))
    with pytest.warns(UserWarning, match=rf"latent cache file {path} is unreadable .*encoded again"):
        again = cache.latents_for("episode_0", frames)
    assert encoder.encoded == 10 and torch.equal(again.mean, first.mean)
    assert torch.equal(cache.get("episode_0").mean, first.mean)  # the re-encoded file replaced the damaged one


def test_build_re_encodes_a_damaged_item(tmp_path, frames):
    cache = LatentCache(tmp_path, tiny_vae())
    cache.build([("episode_0", frames), ("episode_1", frames)], progress=False)
    path = cache.path("episode_1")
    path.write_bytes(path.read_bytes()[:40])
    with pytest.warns(UserWarning, match="is unreadable"):
        assert cache.build([("episode_0", frames), ("episode_1", frames)], progress=False) == 1
