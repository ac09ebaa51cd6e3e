"""``conv_vae``: a small KL VAE trainable on a CPU, for when no pretrained VAE is available.

The same network family as ``kl_f16`` (:mod:`uva_kit.encoder.kl_autoencoder`), narrower, with a
pixel-patch stem so it trains in minutes on CPU (``uva-kit train-vae``). Its latent scale (1 / the
standard deviation of the training latents) is a buffer measured at training time and saved with the
weights. ``checkpoint`` points at a directory written by ``uva-kit train-vae`` (or its
``model.safetensors``); the architecture options must match the ones it was trained with.
"""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import torch

from uva_kit.encoder.checkpoint import WEIGHTS_FILE, load_state, read_state_dict, warn_random_weights
from uva_kit.encoder.kl_autoencoder import AutoencoderShape
from uva_kit.encoder.vae_encoder import VAEEncoder
from uva_kit.errors import CheckpointError, InputError
from uva_kit.spec import ComponentSpec, to_dict
from uva_kit.spec.validators import absolute_path

CONFIG_FILE = "config.json"
# Spec options that do not change the weights: they may differ from the ones a checkpoint was trained with.
RUNTIME_OPTIONS = ("type", "sample_posterior", "checkpoint")


def _positive(instance, attribute, value):
    values = value if isinstance(value, tuple) else (value,)
    if not values or any(v <= 0 for v in values):
        raise InputError(f"{attribute.name} must be positive, got {value}")


@attrs.frozen
class ConvVAESpec(ComponentSpec):
    """A small KL VAE. Downsampling factor: ``patch_size * 2 ** (len(ch_mult) - 1)`` (8 by default).

    ``norm_groups`` must divide ``ch`` times every ``ch_mult`` entry.
    """

    ch: int = attrs.field(default=32, validator=_positive)
    ch_mult: tuple[int, ...] = attrs.field(default=(1, 2), converter=tuple, validator=_positive)
    num_res_blocks: int = attrs.field(default=1, validator=_positive)
    z_channels: int = attrs.field(default=8, validator=_positive)
    patch_size: int = attrs.field(default=4, validator=_positive)
    norm_groups: int = attrs.field(default=16, validator=_positive)
    sample_posterior: bool = True
    checkpoint: str | None = attrs.field(default=None, converter=absolute_path)

    def __attrs_post_init__(self):
        bad = [self.ch * m for m in self.ch_mult if (self.ch * m) % self.norm_groups]
        if bad:
            raise InputError(f"norm_groups {self.norm_groups} does not divide the level widths {bad}")

    @property
    def shape(self) -> AutoencoderShape:
        return AutoencoderShape(
            ch=self.ch, ch_mult=self.ch_mult, num_res_blocks=self.num_res_blocks, z_channels=self.z_channels,
            lowest_level_attention=False, norm_groups=self.norm_groups, patch_size=self.patch_size,
        )


def architecture(spec: ConvVAESpec) -> dict:
    """The options of ``spec`` that determine the weights."""
    return {k: v for k, v in to_dict(spec).items() if k not in RUNTIME_OPTIONS}


class ConvVAEEncoder(VAEEncoder):
    """Frames (B, T, 3, H, W) in [0, 1] -> latents (B, T, z_channels, H / f, W / f)."""

    def __init__(self, spec: ConvVAESpec):
        state = None if spec.checkpoint is None else _read_checkpoint(spec)  # fail before building
        super().__init__(spec, spec.shape)
        self.register_buffer("latent_scale", torch.tensor(1.0))
        if state is None:
            warn_random_weights(spec.type)
        else:
            load_state(self, state, spec.checkpoint)


def _read_checkpoint(spec: ConvVAESpec) -> dict[str, torch.Tensor]:
    """The weights ``spec.checkpoint`` names, after checking its config.json (when present) matches ``spec``."""
    config_path = Path(spec.checkpoint).expanduser() / CONFIG_FILE
    if config_path.is_file():
        trained = json.loads(config_path.read_text())["encoder"]
        wanted = architecture(spec)
        differing = [f"{k}={trained.get(k)!r} (spec: {v!r})" for k, v in wanted.items() if trained.get(k) != _plain(v)]
        if differing:
            raise CheckpointError(
                f"checkpoint {spec.checkpoint} was trained with other architecture options: {', '.join(differing)}. "
                "Set the encoder options to the trained values."
            )
    return read_state_dict(spec.checkpoint)


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


def save_conv_vae(encoder: ConvVAEEncoder, directory: str | Path, report: dict | None = None) -> Path:
    """Write ``model.safetensors`` and ``config.json`` (spec + ``report``) atomically to ``directory``."""
    from safetensors.torch import save_file

    from uva_kit import __version__
    from uva_kit.atomic import atomic_write

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous() for k, v in encoder.state_dict().items()}
    atomic_write(directory / WEIGHTS_FILE, lambda path: save_file(state, path))
    config = {
        "encoder": to_dict(attrs.evolve(encoder.spec, checkpoint=None)),
        "uva_kit_version": __version__,
        "training": report or {},
    }
    atomic_write(directory / CONFIG_FILE, lambda path: Path(path).write_text(json.dumps(config, indent=2) + "\n"))
    return directory
