"""A tiny local CLIP for tests of the clip text encoder (needs transformers)."""

from __future__ import annotations

import json
import string

import pytest


def save_tiny_clip(folder, projection_dim: int = 12) -> str:
    """A randomly initialised CLIP (text width 16, projection ``projection_dim``) and a letters-only BPE tokenizer, saved locally."""
    transformers = pytest.importorskip("transformers", reason="the clip text encoder needs transformers (uva_kit[clip])")
    vocab = {c: i for i, c in enumerate(string.ascii_lowercase)}
    vocab.update({c + "</w>": len(vocab) + i for i, c in enumerate(string.ascii_lowercase)})
    vocab["<|startoftext|>"], vocab["<|endoftext|>"] = len(vocab), len(vocab) + 1
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = transformers.CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"))
    text = dict(vocab_size=len(vocab), hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                max_position_embeddings=32, bos_token_id=vocab["<|startoftext|>"], eos_token_id=vocab["<|endoftext|>"],
                pad_token_id=vocab["<|endoftext|>"])
    vision = dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2, image_size=32, patch_size=16)
    config = transformers.CLIPConfig(text_config=text, vision_config=vision, projection_dim=projection_dim)
    transformers.CLIPModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)
