"""``language``: an instruction, encoded by the text encoder, prepended as ``num_tokens`` copies.

text vector -> Linear(text dim -> width) -> repeated ``num_tokens`` times along the sequence (the
backbone adds its own positional table). In training each sample's vector is replaced by a learned
``fake_latent`` with probability ``drop_prob`` (classifier-free-guidance dropout). Batch key
"instruction": a list of B strings (or one string for every sample).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence

import attrs
import torch
from torch import nn

from uva_kit.errors import InputError
from uva_kit.modality.base import Modality, ModalityContext, absent_vector
from uva_kit.spec import ComponentSpec
from uva_kit.spec.validators import positive, probability


@attrs.frozen
class LanguageModalitySpec(ComponentSpec):
    num_tokens: int = attrs.field(default=64, validator=positive)
    drop_prob: float = attrs.field(default=0.1, validator=probability)


class SharedInstructionWarning(UserWarning):
    """Different instructions of the training data that the text encoder gives one vector: the model cannot tell
    them apart."""


def instruction_list(value: str | Sequence[str], batch: int) -> list[str]:
    if isinstance(value, str):
        return [value] * batch
    value = list(value)
    if len(value) != batch or not all(isinstance(v, str) for v in value):
        raise InputError(f"'instruction' must be a string or a list of {batch} strings, got {value!r}")
    return value


class LanguageModality(Modality):
    data_key = "instruction"

    def __init__(self, spec: LanguageModalitySpec, *, context: ModalityContext):
        super().__init__(spec.type)
        if context.text_encoder is None:
            raise InputError("the language modality needs a text encoder (context.text_encoder)")
        self.prefix_tokens = spec.num_tokens
        self.drop_prob = spec.drop_prob
        self.text_encoder = context.text_encoder
        self.text_proj_cond = nn.Linear(context.text_encoder.output_dim, context.width)
        nn.init.xavier_uniform_(self.text_proj_cond.weight)
        nn.init.zeros_(self.text_proj_cond.bias)
        self.fake_latent = absent_vector(context.width)

    def prefix(self, value: Sequence[str], *, generator=None) -> torch.Tensor:
        device = self.fake_latent.device
        text = self.text_encoder(list(value)).to(device, self.fake_latent.dtype)  # a frozen encoder keeps its own dtype
        vectors = self.text_proj_cond(text)[:, None]  # (B, 1, width)
        if self.training and self.drop_prob > 0:
            dropped = torch.rand(vectors.shape[0], 1, 1, generator=generator, device=device) < self.drop_prob
            vectors = torch.where(dropped, self.fake_latent, vectors)
        return vectors.expand(-1, self.prefix_tokens, -1)


def reads_instructions(spec) -> bool:
    """Whether model spec ``spec`` has a ``language`` modality (its samples need an ``instruction``)."""
    return any(isinstance(modality, LanguageModalitySpec) for modality in spec.modalities)


def warn_of_shared_instructions(modality: LanguageModality, instructions: Iterable[str]) -> None:
    """Warn when different ``instructions`` (the training data's tasks) get the same text vector: tasks hashed
    into one ``task_embedding`` row, or CLIP instructions alike in their first ``max_length`` tokens."""
    distinct = sorted(set(instructions))
    with torch.no_grad():
        vectors = modality.text_encoder(distinct) if distinct else []
    alike: dict[tuple[float, ...], list[str]] = {}
    for text, vector in zip(distinct, vectors):
        alike.setdefault(tuple(vector.tolist()), []).append(text)
    shared = [texts for texts in alike.values() if len(texts) > 1]
    if shared:
        warnings.warn(f"different training instructions get the same text vector, so the model cannot tell them "
                      f"apart: {'; '.join(' = '.join(map(repr, texts)) for texts in shared)}. With "
                      "text_encoder task_embedding, list the tasks in text_encoder.instructions (a row each) or raise "
                      "text_encoder.buckets; with clip, make them differ within text_encoder.max_length tokens.",
                      SharedInstructionWarning, stacklevel=2)
