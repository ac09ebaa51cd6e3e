"""Converting a checkpoint of the original UVA code (ShuangLI59/unified_video_action) into uva_kit.

    report = convert_original("checkpoints/latest.ckpt", "uva-pusht")   # EMA weights, spec from shapes
    model = uva_kit.load("uva-pusht")

Every tensor of the policy state dict is either copied to its uva_kit name (``original_keys``),
used for the action normalizer, or accounted for as not needed (the frozen CLIP, which uva_kit
reads from ``text_encoder.path``; normalizer fields the policy never reads). An unmapped or missing
tensor, or a shape mismatch, is a ``CheckpointError`` listing all of them.

The action normalizer: the original's ``normalizer.params_dict.action`` maps x -> x * scale + offset.
uva_kit's ``RangeNormalizer`` stores the range [low, high] that it maps to [-1, 1]; the range with
exactly the original's scale and offset is low = (-1 - offset) / scale, high = (1 - offset) / scale
(also for a constant dimension, where the original uses scale 1).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs
import torch

from uva_kit.compat.original_keys import (
    ACTION_NORMALIZER_PREFIX,
    OUR_VAE_PREFIX,
    SortedState,
    original_name,
    sort_state,
)
from uva_kit.compat.original_spec import infer_spec_dict
from uva_kit.compat.workspace import config_values, read_workspace
from uva_kit.errors import CheckpointError

#: ``weights`` choices: the state dict of ``state_dicts`` each one reads.
WEIGHTS = {"ema": "ema_model", "raw": "model"}
NORMALIZER = "modalities.action.normalizer."
_LISTED = 20  # names shown per category in an error message


@attrs.frozen
class ConversionReport:
    """What a conversion did: the spec it built and where every source tensor went."""

    source: str
    weights: str
    spec_name: str
    copied: int
    vae_source: str
    clip: tuple[str, ...] = ()
    unused_normalizer: tuple[str, ...] = ()

    def summary(self) -> str:
        lines = [
            f"converted {self.source} ({self.weights}): {self.copied} tensors copied into spec '{self.spec_name}'",
            f"  kl-16 VAE weights from {self.vae_source}",
            "  action normalizer: scale and offset carried over (predict_actions returns environment units)",
        ]
        if self.clip:
            lines.append(f"  {len(self.clip)} frozen CLIP tensors (text_model.*) not copied: uva_kit reads CLIP "
                         f"from text_encoder.path")
        if self.unused_normalizer:
            fields = sorted({name.split(".")[2] for name in self.unused_normalizer})
            lines.append(f"  normalizer fields not used by the original policy, not copied: {', '.join(fields)}")
        return "\n".join(lines)


def policy_state_dict(workspace: Mapping, weights: str = "ema") -> dict[str, torch.Tensor]:
    """The policy state dict a workspace checkpoint holds for ``weights`` ("ema" or "raw")."""
    if weights not in WEIGHTS:
        raise CheckpointError(f"weights must be one of {sorted(WEIGHTS)}, got {weights!r}.")
    state_dicts = workspace.get("state_dicts")
    if not isinstance(state_dicts, Mapping):
        raise CheckpointError(f"not an original UVA workspace checkpoint: it has no 'state_dicts' (keys: {sorted(workspace)}).")
    key = WEIGHTS[weights]
    if key not in state_dicts:
        other = next(k for k, v in WEIGHTS.items() if v != key)
        raise CheckpointError(f"the checkpoint has no '{key}' state dict (it has {sorted(state_dicts)}); "
                              f"use weights='{other}' (--weights {other}).")
    state = state_dicts[key]
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"state_dicts['{key}'] is not a state dict of tensors.")
    return dict(state)


def build_spec(
    state: Mapping[str, torch.Tensor], *, spec=None, overrides: Sequence[str] = (), num_heads: int | None = None,
    clip_path: str | None = None, vae: str | Path | None = None,
):
    """The spec to convert into: ``spec`` (a preset name, file or UVASpec) as given, or inferred from the shapes."""
    from uva_kit.spec import apply_overrides, as_spec, load_spec, spec_from_dict, to_dict

    has_language = "model.text_proj_cond.weight" in state
    if spec is None:
        base = to_dict(load_spec("uva-b-libero" if has_language else "uva-b-pusht"))
        data = infer_spec_dict(dict(state), base, num_heads)
        data.update(name="converted-original", deviations=[],
                    description="Converted from a checkpoint of the original UVA implementation.")
        if has_language:
            if not clip_path:
                raise CheckpointError("this checkpoint conditions on language through CLIP (model.text_proj_cond): pass "
                                      "clip_path (--clip) = a local folder with openai/clip-vit-base-patch32 "
                                      "(CLIPModel.save_pretrained + tokenizer.save_pretrained).")
            data["text_encoder"] = {**data["text_encoder"], "path": str(Path(clip_path).expanduser().resolve())}
    else:
        data = to_dict(as_spec(spec))
    if vae is not None:
        data["encoder"] = {**data["encoder"], "checkpoint": str(Path(vae).expanduser().resolve())}
    return spec_from_dict(apply_overrides(data, overrides) if overrides else data)


def _listing(title: str, items: list[str]) -> str:
    if not items:
        return ""
    shown = "\n    ".join(items[:_LISTED])
    more = f"\n    ... and {len(items) - _LISTED} more" if len(items) > _LISTED else ""
    return f"\n  {len(items)} {title}:\n    {shown}{more}"


def _action_range(normalizer: Mapping[str, torch.Tensor], action_dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """[low, high] of uva_kit's RangeNormalizer with the original's scale and offset (module docstring)."""
    missing = [k for k in ("scale", "offset") if k not in normalizer]
    if missing:
        raise CheckpointError(
            f"the checkpoint has no {', '.join(ACTION_NORMALIZER_PREFIX + k for k in missing)}: without the action "
            f"normalizer, predict_actions could not return actions in environment units."
        )
    scale, offset = normalizer["scale"].double().reshape(-1), normalizer["offset"].double().reshape(-1)
    if scale.numel() != action_dim or offset.numel() != action_dim:
        raise CheckpointError(f"the action normalizer has {scale.numel()} dims, the action head {action_dim}.")
    if (scale <= 0).any():
        raise CheckpointError(f"the action normalizer has a non-positive scale {scale.tolist()}: it is not a range "
                              f"normalizer uva_kit can represent.")
    return (-1 - offset) / scale, (1 - offset) / scale


def _check_normalizer(model, normalizer: Mapping[str, torch.Tensor]) -> None:
    """The converted normalizer reproduces the original's scale and offset (to float32 precision)."""
    scale, offset = model.action_normalizer._scale_offset()
    expected_scale, expected_offset = normalizer["scale"].reshape(-1).float(), normalizer["offset"].reshape(-1).float()
    close = torch.allclose(scale, expected_scale, rtol=1e-5, atol=1e-7) and torch.allclose(
        offset, expected_offset, rtol=1e-5, atol=1e-6)
    if not close:
        raise CheckpointError(f"the action normalizer cannot be represented exactly: scale {expected_scale.tolist()}, "
                              f"offset {expected_offset.tolist()} became {scale.tolist()}, {offset.tolist()}.")


def _vae_differences(model, tensors: dict[str, torch.Tensor]) -> list[str]:
    current = model.state_dict()
    return [original_name(name) for name, value in tensors.items()
            if name.startswith(OUR_VAE_PREFIX) and name in current and not torch.equal(current[name], value.to(current[name]))]


def _match(model, sorted_state: SortedState, extra_unmapped: list[str]) -> dict[str, torch.Tensor]:
    """The full state to load into ``model``; any mismatch is one error listing every problem."""
    expected = model.state_dict()
    tensors = dict(sorted_state.tensors)
    sources = sorted_state.sources
    unexpected = [f"{sources[k]} -> {k}, which this model does not have" for k in sorted(set(tensors) - set(expected))]
    missing = [f"{original_name(k) or k} (for {k})" for k in sorted(set(expected) - set(tensors))
               if not k.startswith(NORMALIZER)]
    mismatched = [
        f"{sources[k]} {tuple(tensors[k].shape)} -> {k} expects {tuple(expected[k].shape)}"
        for k in sorted(set(tensors) & set(expected)) if tensors[k].shape != expected[k].shape
    ]
    unmapped = sorted_state.unmapped + extra_unmapped
    if unmapped or unexpected or missing or mismatched:
        raise CheckpointError(
            "the checkpoint does not match the uva_kit model built from its spec:"
            + _listing("unmapped tensors (no uva_kit counterpart)", unmapped)
            + _listing("tensors with no place in this spec", unexpected)
            + _listing("missing tensors", missing)
            + _listing("shape mismatches", mismatched)
            + "\n  Check that the checkpoint is an original UVA policy and that the spec fits it "
              "(leave the spec out to infer it from the checkpoint's shapes)."
        )
    return tensors


def convert_state_dict(
    state: Mapping[str, torch.Tensor], *, spec=None, overrides: Sequence[str] = (), num_heads: int | None = None,
    clip_path: str | None = None, vae: str | Path | None = None,
):
    """(model, SortedState) from an original policy state dict; see ``convert_original`` for the options."""
    import uva_kit
    from uva_kit.encoder.checkpoint import RandomWeightsWarning

    state = dict(state)
    model_spec = build_spec(state, spec=spec, overrides=overrides, num_heads=num_heads, clip_path=clip_path, vae=vae)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RandomWeightsWarning)  # every weight is loaded below
        model = uva_kit.build(model_spec)
    sorted_state = sort_state(state)
    tensors = dict(sorted_state.tensors)
    has_vae = any(name.startswith(OUR_VAE_PREFIX) for name in tensors)
    if vae is not None:
        differing = _vae_differences(model, tensors)
        if differing:
            raise CheckpointError(f"the checkpoint's own VAE weights differ from {vae} in {len(differing)} tensors "
                                  f"(e.g. {differing[0]}); leave vae out to use the checkpoint's copy.")
        tensors.update({k: v for k, v in model.state_dict().items() if k.startswith(OUR_VAE_PREFIX)})
    elif not has_vae:
        raise CheckpointError("the checkpoint holds no kl-16 VAE weights (vae_model.*): pass vae (--vae) = MAR's "
                              "kl16.ckpt (or a .safetensors of it).")
    sorted_state = attrs.evolve(sorted_state, tensors=tensors)

    normalizer = sorted_state.action_normalizer
    known = {"scale", "offset"} | {f"input_stats.{s}" for s in ("min", "max", "mean", "std")}
    extra = [ACTION_NORMALIZER_PREFIX + k for k in sorted(set(normalizer) - known)]
    full_state = _match(model, sorted_state, extra)
    low, high = _action_range(normalizer, model.spec.layout.action_dim)
    model.load_state_dict({**full_state, **{k: v for k, v in model.state_dict().items() if k.startswith(NORMALIZER)}},
                          strict=True)
    model.action_normalizer.set_range(low, high)
    _check_normalizer(model, normalizer)
    return model.eval(), sorted_state


def convert_original(
    checkpoint: str | Path, out: str | Path, *, weights: str = "ema", spec=None, overrides: Sequence[str] = (),
    num_heads: int | None = None, clip_path: str | None = None, vae: str | Path | None = None,
) -> ConversionReport:
    """Convert an original workspace checkpoint into the uva_kit model directory ``out``.

    ``weights``: "ema" (the released and evaluated weights) or "raw" (the trained, non-averaged ones).
    ``spec``: a preset, spec file or UVASpec to map into; by default the spec is inferred from the
    shapes (``original_spec``), then ``overrides`` ("a.b=value") apply. ``num_heads``: attention heads,
    needed only for a backbone width that is not a MAR size. ``clip_path``: local CLIP folder, needed
    with language. ``vae``: MAR's kl16 weights file; the spec's encoder.checkpoint then names it and
    the checkpoint's own VAE copy (if any) must equal it. Without it, the VAE comes from the checkpoint.
    """
    import uva_kit

    workspace = read_workspace(checkpoint)
    model, sorted_state = convert_state_dict(
        policy_state_dict(workspace, weights), spec=spec, overrides=overrides, num_heads=num_heads,
        clip_path=clip_path, vae=vae,
    )
    report = ConversionReport(
        source=str(checkpoint), weights=WEIGHTS[weights], spec_name=model.spec.name,
        copied=len(sorted_state.sources), vae_source=str(vae) if vae is not None else "the checkpoint (vae_model.*)",
        clip=tuple(sorted_state.clip), unused_normalizer=tuple(sorted_state.unused_normalizer),
    )
    provenance = {"file": Path(checkpoint).name, "weights": report.weights}
    if "cfg" in workspace:
        provenance["original_config"] = config_values(workspace["cfg"])
    uva_kit.save(model, out, extra={"converted_from": provenance})
    return report
