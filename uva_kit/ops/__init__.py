"""Fused ops. Each has a PyTorch reference (the CPU fallback and the correctness oracle)."""

from uva_kit.ops.adaln import adaln_modulate, adaln_modulate_reference
from uva_kit.ops.extension import extension_status

__all__ = ["adaln_modulate", "adaln_modulate_reference", "extension_status"]
