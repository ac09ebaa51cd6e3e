"""``clip``: a frozen CLIP text tower loaded from a local folder (``save_pretrained`` layout).

Never downloads: ``path`` must hold the weights and tokenizer (e.g. openai/clip-vit-base-patch32
saved beforehand); a relative one is made absolute when the spec is made. Gives
``get_text_features`` (pooled, projected; 512-d for ViT-B/32); tokens padded to ``max_length`` (30,
as the original). The CLIP weights are not part of the UVA model's state dict (they are frozen and
live at ``path``). Needs ``pip install 'uva_kit[clip]'``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import attrs
import torch
from torch import nn

from uva_kit.errors import SpecError
from uva_kit.spec import ComponentSpec
from uva_kit.spec.validators import absolute_path, positive


@attrs.frozen
class ClipSpec(ComponentSpec):
    path: str = attrs.field(default="", converter=absolute_path)
    max_length: int = attrs.field(default=30, validator=positive)


def _load(path: str):
    if not path:
        raise SpecError("text_encoder.path", "set it to a local folder holding CLIP weights and tokenizer "
                        "(saved with CLIPModel.save_pretrained / tokenizer.save_pretrained); nothing is downloaded.")
    if not Path(path).is_dir():
        raise SpecError("text_encoder.path", f"{path} is not a folder with CLIP weights.")
    try:
        from transformers import AutoTokenizer, CLIPModel
    except ImportError:
        raise SpecError("text_encoder.type", "the 'clip' text encoder needs transformers: pip install 'uva_kit[clip]'.") from None
    try:
        model = CLIPModel.from_pretrained(path, local_files_only=True)
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    except OSError as exc:
        raise SpecError("text_encoder.path", f"cannot load CLIP from {path}: {exc}") from None
    return model.eval().requires_grad_(False), tokenizer


class ClipTextEncoder(nn.Module):
    def __init__(self, spec: ClipSpec):
        super().__init__()
        model, tokenizer = _load(spec.path)
        self.max_length = spec.max_length
        self.output_dim = model.config.projection_dim
        # Frozen and stored at spec.path: kept out of the module tree so it is not saved with the model.
        self.__dict__["clip"] = model
        self.__dict__["tokenizer"] = tokenizer
        self._cache: dict[str, torch.Tensor] = {}

    def _features(self, text: str) -> torch.Tensor:
        if text not in self._cache:
            tokens = self.tokenizer([text], padding="max_length", max_length=self.max_length, truncation=True, return_tensors="pt")
            with torch.no_grad():
                features = self.clip.get_text_features(input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"])
            self._cache[text] = getattr(features, "pooler_output", features)[0]
        return self._cache[text]

    def forward(self, instructions: Sequence[str]) -> torch.Tensor:
        return torch.stack([self._features(text) for text in instructions])
