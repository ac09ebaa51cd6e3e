"""Policy test models: every kind of model Policy.compile() captures differently, with random weights throughout."""

from __future__ import annotations

import warnings

import torch
from spec_overrides import TINY_LANGUAGE_MODALITIES

import uva_kit
from uva_kit.ops import extension_status
from uva_kit.spec import load_spec

FUSED = "adaln_sample" in extension_status().ops

# What Policy.compile() captures differs with the encoder (patch, or kl_f16 with a sampled posterior), with
# the streams the policy is given (proprio) and with an instruction.
POLICY_SPECS = {
    "patch-encoder": lambda: load_spec("pusht-tiny"),
    "proprio": lambda: load_spec("pusht-small"),
    "kl_f16-encoder": lambda: load_spec("pusht-tiny", ("encoder.type=kl_f16", "layout.image_size=32")),
    "instructed": lambda: load_spec("pusht-tiny", [TINY_LANGUAGE_MODALITIES]),
}


def build_model(kind: str):
    """The model with random weights everywhere: a fresh model's zero-initialized AdaLN layers make its actions
    independent of the frames, which would hide a broken encoder or backbone path."""
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # random kl_f16 weights are expected here
        model = uva_kit.build(POLICY_SPECS[kind]()).eval()
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.dim() >= 2:
                parameter.copy_(torch.randn(parameter.shape, generator=generator) / parameter[0].numel() ** 0.5)
            else:
                parameter.add_(0.1 * torch.randn(parameter.shape, generator=generator))
    return model
