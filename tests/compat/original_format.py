"""Synthetic checkpoints in the original UVA format: original key names and shapes, random values.

Written from the documented structure of the original policy state dict (prefixes ``model.``,
``vae_model.``, ``normalizer.``, ``text_model.``), independently of uva_kit's key mapping. At
``OriginalSizes.pusht()`` / ``.libero()`` the MAR part has the original's tensor and parameter
counts (444 / 261,079,156 and 449 / 261,602,948), which the tests check.
"""

from __future__ import annotations

import math
from pathlib import Path

import attrs
import torch

VAE_SHAPES_FILE = Path(__file__).parents[1] / "encoder" / "data" / "kl16_state_dict_shapes.txt"
LATENT = 16  # kl-16 latent channels
FREQUENCIES = 256  # sinusoidal timestep features of the diffusion MLPs


@attrs.frozen
class OriginalSizes:
    width: int
    depth: int
    decoder_depth: int
    heads: int
    mlp_hidden: int
    frames: int
    side: int  # tokens per frame = side * side
    action_dim: int
    chunk: int
    head_width: int
    head_depth: int
    action_head_width: int
    action_head_depth: int
    pool: int
    text_tokens: int = 0  # 0: no language (PushT)
    text_dim: int = 512

    @classmethod
    def pusht(cls) -> OriginalSizes:
        return cls(768, 12, 12, 12, 3072, 4, 16, 2, 16, 1024, 6, 1024, 6, 4)

    @classmethod
    def libero(cls) -> OriginalSizes:
        return attrs.evolve(cls.pusht(), action_dim=10, text_tokens=64)

    @classmethod
    def small(cls, **changes) -> OriginalSizes:
        """Reduced sizes with the same structure (4 frames, 16 actions, pool 4)."""
        return attrs.evolve(cls(64, 2, 2, 4, 128, 4, 8, 2, 16, 48, 2, 40, 2, 4), **changes)


def _linear(out_features: int, in_features: int) -> dict[str, tuple[int, ...]]:
    return {"weight": (out_features, in_features), "bias": (out_features,)}


def _norm(width: int) -> dict[str, tuple[int, ...]]:
    return {"weight": (width,), "bias": (width,)}


def _group(prefix: str, parts: dict) -> dict[str, tuple[int, ...]]:
    return {f"{prefix}.{name}": shape for name, shape in parts.items()}


def _block(prefix: str, width: int, hidden: int) -> dict[str, tuple[int, ...]]:
    out = {}
    for name, parts in (("norm1", _norm(width)), ("attn.qkv", _linear(3 * width, width)), ("attn.proj", _linear(width, width)),
                        ("norm2", _norm(width)), ("mlp.fc1", _linear(hidden, width)), ("mlp.fc2", _linear(width, hidden))):
        out.update(_group(f"{prefix}.{name}", parts))
    return out


def _mlp_adaln(prefix: str, channels: int, width: int, depth: int, cond: int) -> dict[str, tuple[int, ...]]:
    out = {}
    out.update(_group(f"{prefix}.time_embed.mlp.0", _linear(width, FREQUENCIES)))
    out.update(_group(f"{prefix}.time_embed.mlp.2", _linear(width, width)))
    out.update(_group(f"{prefix}.cond_embed", _linear(width, cond)))
    out.update(_group(f"{prefix}.input_proj", _linear(width, channels)))
    for i in range(depth):
        block = f"{prefix}.res_blocks.{i}"
        out.update(_group(f"{block}.in_ln", _norm(width)))
        out.update(_group(f"{block}.mlp.0", _linear(width, width)))
        out.update(_group(f"{block}.mlp.2", _linear(width, width)))
        out.update(_group(f"{block}.adaLN_modulation.1", _linear(3 * width, width)))
    out.update(_group(f"{prefix}.final_layer.linear", _linear(2 * channels, width)))
    out.update(_group(f"{prefix}.final_layer.adaLN_modulation.1", _linear(2 * width, width)))
    return out


def mar_shapes(s: OriginalSizes) -> dict[str, tuple[int, ...]]:
    """Names (without the policy's ``model.`` prefix) and shapes of the original MAR model."""
    w, tokens = s.width, s.side * s.side
    out = {"fake_latent_x": (1, w), "fake_action_latent": (1, w)}
    for table in ("temporal_pos_embed", "decoder_temporal_pos_embed", "diffusion_temporal_embed"):
        out[table] = (1, s.frames, w)
    for table in ("spatial_pos_embed", "decoder_spatial_pos_embed", "diffusion_spatial_embed"):
        out[table] = (1, tokens, w)
    out.update(_group("z_proj_cond", _linear(w, LATENT)))
    out.update(_group("z_proj", _linear(w, LATENT)))
    out.update(_group("action_proj_cond", _linear(w, s.action_dim)))
    out.update(_group("proj_cond_x_layer", _linear(w, 3 * w)))
    out.update(_group("z_proj_ln", _norm(w)))
    for i in range(s.depth):
        out.update(_block(f"encoder_blocks.{i}", w, s.mlp_hidden))
    out.update(_group("encoder_norm", _norm(w)))
    out.update(_group("decoder_embed", _linear(w, w)))
    for i in range(s.decoder_depth):
        out.update(_block(f"decoder_blocks.{i}", w, s.mlp_hidden))
    out.update(_group("decoder_norm", _norm(w)))
    out.update(_mlp_adaln("diffloss.net", LATENT, s.head_width, s.head_depth, w))
    out["diffactloss.conv.0.weight"], out["diffactloss.conv.0.bias"] = (w, w, 3, 3), (w,)
    out.update(_group("diffactloss.fc.0", _linear(w, w * s.pool * s.pool)))
    out.update(_group("diffactloss.fc.2", _linear(w, w)))
    out.update(_group("diffactloss.interpolate", _linear(s.chunk, s.frames)))
    out.update(_group("diffactloss.refine.0", _linear(w, w)))
    out.update(_group("diffactloss.refine.2", _linear(w, w)))
    out.update(_mlp_adaln("diffactloss.net", s.action_dim, s.action_head_width, s.action_head_depth, w))
    if s.text_tokens:
        out.update(_group("text_proj_cond", _linear(w, s.text_dim)))
        out["fake_latent"] = (1, w)
        out["text_pos_embed"] = (1, s.text_tokens, w)
        out["decoder_text_pos_embed"] = (1, s.text_tokens, w)
    return out


def vae_shapes() -> dict[str, tuple[int, ...]]:
    lines = [line.split() for line in VAE_SHAPES_FILE.read_text().splitlines() if not line.startswith("#")]
    return {name: tuple(int(d) for d in dims.split(",")) for name, dims in lines}


def _random(name: str, shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    """Values that keep a random network's activations of order one (so every weight matters)."""
    noise = torch.randn(shape, generator=generator)
    if name.endswith("norm1.weight") or name.endswith("norm2.weight") or name.endswith("_ln.weight") \
            or name.endswith("norm.weight"):
        return 1 + 0.1 * noise
    if len(shape) >= 2 and name.endswith("weight"):
        return noise / math.sqrt(math.prod(shape[1:]))
    if name.endswith("bias"):
        return 0.1 * noise
    return 0.5 * noise  # positional tables and learned "fake" vectors


def vae_state(prefix: str = "vae_model.") -> dict[str, torch.Tensor]:
    """The VAE tensors, each a distinct constant (a broadcast view: 66M values, no memory or file cost)."""
    return {f"{prefix}{name}": torch.full((1,), 1e-3 * (i + 1)).expand(shape)
            for i, (name, shape) in enumerate(vae_shapes().items())}


def normalizer_state(action_low: torch.Tensor, action_high: torch.Tensor) -> dict[str, torch.Tensor]:
    """The original's limits normalizer (min/max to [-1, 1]) for actions, plus the fields the policy ignores."""
    out = {}
    fields = {"action": (action_low, action_high), "agent_pos": (torch.zeros(2), torch.full((2,), 512.0))}
    for field, (low, high) in fields.items():
        scale = 2 / (high - low)
        prefix = f"normalizer.params_dict.{field}"
        out[f"{prefix}.scale"] = scale
        out[f"{prefix}.offset"] = -1 - scale * low
        out[f"{prefix}.input_stats.min"], out[f"{prefix}.input_stats.max"] = low, high
        out[f"{prefix}.input_stats.mean"], out[f"{prefix}.input_stats.std"] = (low + high) / 2, (high - low) / 4
    out["normalizer.params_dict.image.scale"] = torch.tensor([2.0])
    out["normalizer.params_dict.image.offset"] = torch.tensor([-1.0])
    return out


def policy_state(sizes: OriginalSizes, seed: int = 0, with_vae: bool = True) -> dict[str, torch.Tensor]:
    """A complete original policy state dict with random values."""
    generator = torch.Generator().manual_seed(seed)
    state = {f"model.{name}": _random(name, shape, generator) for name, shape in mar_shapes(sizes).items()}
    if with_vae:
        state.update(vae_state())
    low = torch.linspace(10.0, 30.0, sizes.action_dim)
    state.update(normalizer_state(low, low + torch.linspace(400.0, 100.0, sizes.action_dim)))
    if sizes.text_tokens:  # a few tensors standing for the frozen CLIP
        state["text_model.model.text_model.embeddings.token_embedding.weight"] = torch.randn(8, 4, generator=generator)
        state["text_model.model.text_projection.weight"] = torch.randn(sizes.text_dim, 4, generator=generator)
    return state


def workspace(model_state: dict[str, torch.Tensor], ema_state: dict[str, torch.Tensor] | None = None) -> dict:
    """The dict the original workspace saves, with plain containers in place of the OmegaConf config."""
    state_dicts = {"model": model_state, "optimizer": {"state": {}, "param_groups": [{"lr": 1e-4, "params": [0, 1]}]}}
    if ema_state is not None:
        state_dicts["ema_model"] = ema_state
    return {"cfg": {"name": "train_uva", "task": {"name": "pusht"}}, "state_dicts": state_dicts,
            "pickles": {"_output_dir": b"\x80\x04\x95 dill bytes"}}
