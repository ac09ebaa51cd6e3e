"""A functional oracle of the original UVA forward pass, computed from ORIGINAL state-dict keys.

Plain torch ops, written from the documented method (MAR encoder/decoder over a channel-wise
fusion, SimpleMLPAdaLN heads, the conv_fc action aggregator, iDDPM cosine schedule with 100
respaced steps, learned-range variance, temperature on the per-step noise). It shares no code with
uva_kit, so a wrong name mapping, stream order, reshape or schedule in uva_kit shows up as a
mismatch. ``sd`` is an original policy state dict (keys ``model.*``, ``normalizer.*``).

Layout conventions of the original assumed here: latents (B, T, C, h, w) are patchified with patch
size 1 into tokens ordered frame-major, then row-major over (h, w) with the channels last; the
positional tables are broadcast-summed as temporal[t] + spatial[s] at sequence index t * h * w + s;
the action chunk (B, L, A) is projected and each action repeated (T * h * w) / L times; the fused
channel order is [future slot, history slot, action slot].
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

EPS = 1e-6  # LayerNorm eps of the blocks and heads


def _linear(sd, name, x):
    return F.linear(x, sd[f"{name}.weight"], sd[f"{name}.bias"])


def _layer_norm(sd, name, x):
    return F.layer_norm(x, (x.shape[-1],), sd[f"{name}.weight"], sd[f"{name}.bias"], EPS)


def _attention_block(sd, name, x, heads):
    batch, length, width = x.shape
    h = _layer_norm(sd, f"{name}.norm1", x)
    q, k, v = _linear(sd, f"{name}.attn.qkv", h).reshape(batch, length, 3, heads, width // heads).unbind(2)
    q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # (B, heads, L, head_dim)
    weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(width // heads), dim=-1)
    x = x + _linear(sd, f"{name}.attn.proj", (weights @ v).transpose(1, 2).reshape(batch, length, width))
    h = _layer_norm(sd, f"{name}.norm2", x)
    return x + _linear(sd, f"{name}.mlp.fc2", F.gelu(_linear(sd, f"{name}.mlp.fc1", h)))


def _count(sd, prefix):
    return len({k[len(prefix):].split(".")[0] for k in sd if k.startswith(prefix)})


def patchify(latents):
    """(B, T, C, h, w) -> (B, T * h * w, C), patch size 1 (MAR's 'nchpwq->nhwcpq' with p = 1)."""
    batch, frames, channels, height, width = latents.shape
    flat = latents.reshape(batch * frames, channels, height, 1, width, 1)
    return torch.einsum("nchpwq->nhwcpq", flat).reshape(batch, frames * height * width, channels)


def _grid_table(sd, temporal, spatial):
    t, s = sd[temporal], sd[spatial]  # (1, T, W), (1, S, W)
    return (t[:, :, None, :] + s[:, None, :, :]).reshape(1, t.shape[1] * s.shape[1], t.shape[-1])


def mar_latents(sd, heads, *, history=None, future=None, future_mask=None, actions=None, text=None):
    """The decoder output plus the diffusion positional tables, z (B, T*h*w, W).

    history/future: latents (B, T, C, h, w) or None (absent: fake_latent_x); future_mask (B, T*h*w)
    True where the future token is hidden; actions: normalized (B, L, A) or None (fake); text:
    CLIP features (B, D) or None.
    """
    fake_x = sd["model.fake_latent_x"]  # (1, W)
    reference = history if history is not None else future
    batch = reference.shape[0]
    length = sd["model.temporal_pos_embed"].shape[1] * sd["model.spatial_pos_embed"].shape[1]
    width = fake_x.shape[-1]
    absent = fake_x.expand(batch, length, width)
    if future is None:
        x_slot = absent
    else:
        x_slot = _linear(sd, "model.z_proj", patchify(future))
        if future_mask is not None:
            x_slot = torch.where(future_mask[..., None], absent, x_slot)
    cond_slot = absent if history is None else _linear(sd, "model.z_proj_cond", patchify(history))
    if actions is None:
        chunk = sd["model.diffactloss.interpolate.weight"].shape[0]
        per_action = sd["model.fake_action_latent"].expand(batch, chunk, width)
    else:
        per_action = _linear(sd, "model.action_proj_cond", actions)
    action_slot = per_action.repeat_interleave(length // per_action.shape[1], dim=1)

    x = _linear(sd, "model.proj_cond_x_layer", torch.cat([x_slot, cond_slot, action_slot], dim=-1))
    x = x + _grid_table(sd, "model.temporal_pos_embed", "model.spatial_pos_embed")
    prefix = 0
    if text is not None:
        text_tokens = sd["model.text_pos_embed"]
        prefix = text_tokens.shape[1]
        projected = _linear(sd, "model.text_proj_cond", text)[:, None].expand(batch, prefix, width)
        x = torch.cat([projected + text_tokens, x], dim=1)
    x = _layer_norm(sd, "model.z_proj_ln", x)
    for i in range(_count(sd, "model.encoder_blocks.")):
        x = _attention_block(sd, f"model.encoder_blocks.{i}", x, heads)
    x = _layer_norm(sd, "model.encoder_norm", x)
    x = _linear(sd, "model.decoder_embed", x)
    table = _grid_table(sd, "model.decoder_temporal_pos_embed", "model.decoder_spatial_pos_embed")
    if text is not None:
        table = torch.cat([sd["model.decoder_text_pos_embed"], table], dim=1)
    x = x + table
    for i in range(_count(sd, "model.decoder_blocks.")):
        x = _attention_block(sd, f"model.decoder_blocks.{i}", x, heads)
    x = _layer_norm(sd, "model.decoder_norm", x)[:, prefix:]
    return x + _grid_table(sd, "model.diffusion_temporal_embed", "model.diffusion_spatial_embed")


def timestep_features(t, dim=256, max_period=10000.0):
    half = dim // 2
    frequencies = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32) / half)
    angles = t.float()[:, None] * frequencies[None]
    return torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)


def mlp_adaln(sd, prefix, x, t, c):
    """SimpleMLPAdaLN under ``prefix`` (e.g. 'model.diffloss.net'): [eps, variance logits]."""
    y = _linear(sd, f"{prefix}.time_embed.mlp.2", F.silu(_linear(sd, f"{prefix}.time_embed.mlp.0", timestep_features(t))))
    y = y + _linear(sd, f"{prefix}.cond_embed", c)
    h = _linear(sd, f"{prefix}.input_proj", x)
    for i in range(_count(sd, f"{prefix}.res_blocks.")):
        block = f"{prefix}.res_blocks.{i}"
        shift, scale, gate = _linear(sd, f"{block}.adaLN_modulation.1", F.silu(y)).chunk(3, dim=-1)
        m = _layer_norm(sd, f"{block}.in_ln", h) * (1 + scale) + shift
        h = h + gate * _linear(sd, f"{block}.mlp.2", F.silu(_linear(sd, f"{block}.mlp.0", m)))
    shift, scale = _linear(sd, f"{prefix}.final_layer.adaLN_modulation.1", F.silu(y)).chunk(2, dim=-1)
    h = F.layer_norm(h, (h.shape[-1],), eps=EPS) * (1 + scale) + shift
    return _linear(sd, f"{prefix}.final_layer.linear", h)


def action_conditions(sd, z, frames, side):
    """The conv_fc aggregator: z (B, T*side*side, W) -> one condition per action (B, L, W)."""
    batch, _, width = z.shape
    maps = z.reshape(batch * frames, side * side, width).transpose(1, 2).reshape(batch * frames, width, side, side)
    pool = math.isqrt(sd["model.diffactloss.fc.0.weight"].shape[1] // width)
    h = F.relu(F.conv2d(maps, sd["model.diffactloss.conv.0.weight"], sd["model.diffactloss.conv.0.bias"], padding=1))
    h = F.adaptive_avg_pool2d(h, pool).flatten(1)
    h = _linear(sd, "model.diffactloss.fc.2", F.relu(_linear(sd, "model.diffactloss.fc.0", h))).reshape(batch, frames, width)
    h = _linear(sd, "model.diffactloss.interpolate", h.transpose(1, 2)).transpose(1, 2)
    return _linear(sd, "model.diffactloss.refine.2", F.relu(_linear(sd, "model.diffactloss.refine.0", h)))


class RespacedCosine:
    """iDDPM's cosine schedule over 1000 steps, respaced to ``steps`` kept steps (numpy float64)."""

    def __init__(self, steps: int, train_steps: int = 1000):
        def alpha_bar(t):
            return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2

        betas = np.array([min(1 - alpha_bar((i + 1) / train_steps) / alpha_bar(i / train_steps), 0.999)
                          for i in range(train_steps)])
        full = np.cumprod(1.0 - betas)
        self.kept = [round(k * (train_steps - 1) / (steps - 1)) for k in range(steps)]
        alphas_cumprod = full[self.kept]
        self.betas = 1.0 - alphas_cumprod / np.append(1.0, alphas_cumprod[:-1])
        previous = np.append(1.0, alphas_cumprod[:-1])
        posterior_variance = self.betas * (1.0 - previous) / (1.0 - alphas_cumprod)
        self.log_variance_clipped = np.log(np.append(posterior_variance[1], posterior_variance[1:]))
        self.coef1 = self.betas * np.sqrt(previous) / (1.0 - alphas_cumprod)
        self.coef2 = (1.0 - previous) * np.sqrt(1.0 - self.betas) / (1.0 - alphas_cumprod)
        self.recip = np.sqrt(1.0 / alphas_cumprod)
        self.recipm1 = np.sqrt(1.0 / alphas_cumprod - 1.0)

    def sample(self, net, noise, temperature, clip):
        """Ancestral sampling; ``net(x, t_original)`` -> [eps, v]; noise (S, N, C): initial x, then per step."""
        x = noise[0]
        size = len(self.kept)
        for k, i in enumerate(reversed(range(size))):
            t = torch.full((x.shape[0],), self.kept[i], dtype=torch.long)
            eps, v = net(x, t).chunk(2, dim=-1)
            fraction = (v + 1) / 2
            log_variance = fraction * float(np.log(self.betas[i])) + (1 - fraction) * float(self.log_variance_clipped[i])
            x0 = float(self.recip[i]) * x - float(self.recipm1[i]) * eps
            if clip:
                x0 = x0.clamp(-1, 1)
            mean = float(self.coef1[i]) * x0 + float(self.coef2[i]) * x
            x = mean + torch.exp(0.5 * log_variance) * noise[k + 1] * temperature if i > 0 else mean
        return x


def predict_action(sd, heads, history, noise, *, steps=100, temperature=0.95, text=None):
    """The policy: normalized actions sampled by the action head, mapped back by the action normalizer.

    history: latents (B, T, C, h, w); noise (steps, B * L, A).
    """
    frames = sd["model.temporal_pos_embed"].shape[1]
    side = math.isqrt(sd["model.spatial_pos_embed"].shape[1])
    z = mar_latents(sd, heads, history=history, text=text)
    conditions = action_conditions(sd, z, frames, side)
    batch, chunk, width = conditions.shape
    flat = conditions.reshape(batch * chunk, width)
    actions = RespacedCosine(steps).sample(lambda x, t: mlp_adaln(sd, "model.diffactloss.net", x, t, flat),
                                           noise, temperature, clip=True).reshape(batch, chunk, -1)
    scale, offset = sd["normalizer.params_dict.action.scale"], sd["normalizer.params_dict.action.offset"]
    return (actions - offset) / scale
