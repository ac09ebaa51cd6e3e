"""The uva_kit spec of an original UVA checkpoint, read off its tensor shapes.

Starts from ``uva-b-pusht`` (or ``uva-b-libero`` when the checkpoint has the language projection)
and sets what the shapes determine: action dim and chunk, frame count, token grid (hence image
size, at the kl-16 VAE's stride 16), backbone width, depths and MLP ratio, head widths and depths,
the aggregator's pool size, the language prefix length, and which heads exist. The attention head
count is not visible in any shape: it comes from ``num_heads`` or, for the MAR sizes, from
``MAR_HEADS``.
"""

from __future__ import annotations

import math
import re

import torch

from uva_kit.errors import CheckpointError

#: Attention heads of the MAR models by width (mar_base, mar_large, mar_huge).
MAR_HEADS = {768: 12, 1024: 16, 1280: 16}
KL16_CHANNELS = 16
KL16_STRIDE = 16


def _count(state: dict[str, torch.Tensor], prefix: str) -> int:
    pattern = re.compile(re.escape(prefix) + r"(\d+)\.")
    indices = {int(m.group(1)) for name in state if (m := pattern.match(name))}
    return max(indices) + 1 if indices else 0


def _shape(state: dict[str, torch.Tensor], name: str) -> tuple[int, ...]:
    if name not in state:
        raise CheckpointError(f"the checkpoint has no '{name}', which every original UVA model has; "
                              f"is it an original UVA policy checkpoint?")
    return tuple(state[name].shape)


def _modality(base: dict, kind: str) -> dict:
    """The base preset's table for modality ``kind`` (a copy), or a new one."""
    found = [dict(m) for m in base.get("modalities", []) if m.get("type") == kind]
    return found[0] if found else {"type": kind}


def _with_head(modality: dict, state: dict[str, torch.Tensor], prefix: str, kind: str) -> dict:
    head = dict(modality.get("head") or {})
    if head.get("type") != kind:
        head = {"type": kind}
    head.update(width=_shape(state, prefix + "input_proj.weight")[0], depth=_count(state, prefix + "res_blocks."))
    return {**modality, "head": head, "predict": True}


def infer_spec_dict(state: dict[str, torch.Tensor], base: dict, num_heads: int | None = None) -> dict:
    """``base`` (the dict form of a preset) with every shape-determined value set from ``state``."""
    width = _shape(state, "model.fake_latent_x")[-1]
    frames = _shape(state, "model.temporal_pos_embed")[1]
    tokens = _shape(state, "model.spatial_pos_embed")[1]
    side = math.isqrt(tokens)
    if side * side != tokens:
        raise CheckpointError(f"model.spatial_pos_embed has {tokens} positions per frame, not a square grid.")
    channels = _shape(state, "model.z_proj.weight")[1]
    if channels != KL16_CHANNELS:
        raise CheckpointError(f"model.z_proj reads {channels}-channel latents; the kl-16 VAE gives {KL16_CHANNELS}.")
    heads = num_heads or MAR_HEADS.get(width)
    if heads is None:
        raise CheckpointError(f"the backbone width {width} is not a MAR size {sorted(MAR_HEADS)}: "
                              f"pass num_heads (--num-heads), which no tensor shape records.")

    spec = dict(base)
    layout = dict(spec["layout"])
    layout.update(image_size=side * KL16_STRIDE, history_frames=frames, future_frames=frames,
                  action_dim=_shape(state, "model.action_proj_cond.weight")[1])
    backbone = dict(spec["backbone"])
    backbone.update(
        type="mar", width=width, num_heads=heads, depth=_count(state, "model.encoder_blocks."),
        decoder_depth=_count(state, "model.decoder_blocks."),
        mlp_ratio=_shape(state, "model.encoder_blocks.0.mlp.fc1.weight")[0] / width,
    )
    has_video_head = "model.diffloss.net.input_proj.weight" in state
    has_action_head = "model.diffactloss.net.input_proj.weight" in state
    video = _modality(base, "video")
    video = _with_head(video, state, "model.diffloss.net.", "token") if has_video_head else {**video, "predict": False}
    action = _modality(base, "action")
    if has_action_head:
        action = _with_head(action, state, "model.diffactloss.net.", "chunk")
        pooled = _shape(state, "model.diffactloss.fc.0.weight")[1] // width
        action["head"]["pool_size"] = math.isqrt(pooled)
        layout["action_chunk"] = _shape(state, "model.diffactloss.interpolate.weight")[0]
    else:
        action["predict"] = False
    modalities = [video, action]
    if "model.text_proj_cond.weight" in state:
        modalities.append({**_modality(base, "language"), "num_tokens": _shape(state, "model.text_pos_embed")[1]})
    spec.update(layout=layout, backbone=backbone, modalities=modalities)
    if not has_action_head:  # a stage-1 (video-only) checkpoint
        spec["modes"] = [{"mode": {"type": "video"}, "weight": 1.0}]
    elif not has_video_head:  # the UVA-action ablation
        spec["modes"] = [{"mode": {"type": "policy"}, "weight": 1.0}]
    return spec
