"""Where each tensor of an original UVA policy state dict goes in a uva_kit model (by name and shape).

The original policy's submodules give its prefixes: ``model.`` (the MAR model), ``vae_model.``
(the kl-16 VAE), ``normalizer.`` and, with language, ``text_model.`` (the frozen CLIP).

| original (policy state dict)                  | uva_kit                                   |
|-----------------------------------------------|-------------------------------------------|
| model.encoder_blocks.*, decoder_blocks.*, z_proj_ln, encoder_norm, decoder_embed, decoder_norm | backbone.* (same names) |
| model.proj_cond_x_layer                       | backbone.fusion                           |
| model.{temporal,spatial}_pos_embed (1, n, W)  | backbone.{temporal,spatial}_pos_embed, a unit axis added for broadcasting |
| model.decoder_*_pos_embed, diffusion_*_embed  | likewise                                  |
| model.text_pos_embed, decoder_text_pos_embed  | backbone.* (same shape)                   |
| model.z_proj, z_proj_cond, fake_latent_x      | modalities.video.* (fake vectors (1, W) -> (1, 1, W)) |
| model.diffloss.net.*                          | modalities.video.head.net.*               |
| model.action_proj_cond, fake_action_latent    | modalities.action.proj, modalities.action.absent |
| model.diffactloss.{conv,fc,interpolate,refine}| modalities.action.head.aggregator.*       |
| model.diffactloss.net.*                       | modalities.action.head.net.*              |
| model.text_proj_cond, fake_latent             | modalities.language.*                     |
| vae_model.*                                   | encoder.autoencoder.*                     |
| normalizer.params_dict.action.*               | modalities.action.normalizer (see ``original.py``) |

Not copied, but accounted for: ``text_model.*`` (the frozen CLIP, which uva_kit loads from
``text_encoder.path``) and the normalizer fields other than ``action`` (``agent_pos``, ``image``:
the original policy's forward never reads them). Anything else is unmapped: an error.
"""

from __future__ import annotations

import attrs
import torch

# Renamed by prefix; the longest matching prefix wins.
_PREFIXES = {
    "model.encoder_blocks.": "backbone.encoder_blocks.",
    "model.decoder_blocks.": "backbone.decoder_blocks.",
    "model.z_proj_ln.": "backbone.z_proj_ln.",
    "model.encoder_norm.": "backbone.encoder_norm.",
    "model.decoder_embed.": "backbone.decoder_embed.",
    "model.decoder_norm.": "backbone.decoder_norm.",
    "model.proj_cond_x_layer.": "backbone.fusion.",
    "model.z_proj.": "modalities.video.z_proj.",
    "model.z_proj_cond.": "modalities.video.z_proj_cond.",
    "model.diffloss.net.": "modalities.video.head.net.",
    "model.action_proj_cond.": "modalities.action.proj.",
    "model.diffactloss.net.": "modalities.action.head.net.",
    "model.diffactloss.": "modalities.action.head.aggregator.",
    "model.text_proj_cond.": "modalities.language.text_proj_cond.",
    "vae_model.": "encoder.autoencoder.",
}

# Renamed one by one: (uva_kit name, position of the unit axis uva_kit adds, or None).
_TENSORS = {
    "model.fake_latent_x": ("modalities.video.fake_latent_x", 1),
    "model.fake_action_latent": ("modalities.action.absent", 1),
    "model.fake_latent": ("modalities.language.fake_latent", 1),
    "model.temporal_pos_embed": ("backbone.temporal_pos_embed", 2),
    "model.spatial_pos_embed": ("backbone.spatial_pos_embed", 1),
    "model.decoder_temporal_pos_embed": ("backbone.decoder_temporal_pos_embed", 2),
    "model.decoder_spatial_pos_embed": ("backbone.decoder_spatial_pos_embed", 1),
    "model.diffusion_temporal_embed": ("backbone.diffusion_temporal_embed", 2),
    "model.diffusion_spatial_embed": ("backbone.diffusion_spatial_embed", 1),
    "model.text_pos_embed": ("backbone.text_pos_embed", None),
    "model.decoder_text_pos_embed": ("backbone.decoder_text_pos_embed", None),
}

NORMALIZER_PREFIX = "normalizer.params_dict."
ACTION_NORMALIZER_PREFIX = NORMALIZER_PREFIX + "action."
CLIP_PREFIX = "text_model."
VAE_PREFIX = "vae_model."
OUR_VAE_PREFIX = _PREFIXES[VAE_PREFIX]


def uva_kit_name(original: str) -> tuple[str, int | None] | None:
    """(uva_kit name, unit axis to add or None) of an original model/VAE tensor, or None if unmapped."""
    if original in _TENSORS:
        return _TENSORS[original]
    matches = [prefix for prefix in _PREFIXES if original.startswith(prefix)]
    if not matches:
        return None
    prefix = max(matches, key=len)
    return _PREFIXES[prefix] + original[len(prefix):], None


def original_name(ours: str) -> str | None:
    """The original name that maps to uva_kit's ``ours`` (for error messages), or None."""
    for original, (name, _) in _TENSORS.items():
        if name == ours:
            return original
    matches = [(prefix, target) for prefix, target in _PREFIXES.items() if ours.startswith(target)]
    if not matches:
        return None
    prefix, target = max(matches, key=lambda item: len(item[1]))
    return prefix + ours[len(target):]


@attrs.frozen
class SortedState:
    """An original policy state dict, split by destination.

    ``tensors``: uva_kit name -> tensor (already reshaped); ``sources``: uva_kit name -> original
    name; ``action_normalizer``: the action field's tensors (``scale``, ``offset``,
    ``input_stats.min`` ...); ``clip``: the frozen CLIP's names; ``unused_normalizer``: names of the
    normalizer fields the policy never reads; ``unmapped``: everything else.
    """

    tensors: dict[str, torch.Tensor]
    sources: dict[str, str]
    action_normalizer: dict[str, torch.Tensor]
    clip: list[str]
    unused_normalizer: list[str]
    unmapped: list[str]


def sort_state(state: dict[str, torch.Tensor]) -> SortedState:
    """Split an original policy state dict (see ``SortedState``)."""
    tensors, sources, action_normalizer = {}, {}, {}
    clip, unused, unmapped = [], [], []
    for name, value in state.items():
        if name.startswith(ACTION_NORMALIZER_PREFIX):
            action_normalizer[name[len(ACTION_NORMALIZER_PREFIX):]] = value
        elif name.startswith(NORMALIZER_PREFIX):
            unused.append(name)
        elif name.startswith(CLIP_PREFIX):
            clip.append(name)
        elif (target := uva_kit_name(name)) is not None:
            ours, axis = target
            tensors[ours] = value if axis is None else value.unsqueeze(axis)
            sources[ours] = name
        else:
            unmapped.append(name)
    return SortedState(tensors, sources, action_normalizer, sorted(clip), sorted(unused), sorted(unmapped))
