"""Helpers of the evaluation tests (imported by name: tests/eval is on sys.path)."""

from __future__ import annotations

import torch

import uva_kit


def save_tiny(directory, overrides=()):
    """Save an untrained pusht-tiny model whose action normalizer has the shipped PushT set's range."""
    from uva_kit.data import UVADataset, default_pusht_dataset
    from uva_kit.train.loop import fit_normalizers

    torch.manual_seed(0)
    spec = uva_kit.load_spec("pusht-tiny", overrides=list(overrides))
    model = uva_kit.build(spec)
    fit_normalizers(model, UVADataset(default_pusht_dataset(), spec.layout, split="all").stats)
    uva_kit.save(model, directory)
    return directory
