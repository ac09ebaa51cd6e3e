"""The built-in components, registered through the same hook as any third-party plugin."""

from __future__ import annotations

from pathlib import Path

from uva_kit.hookspecs import hookimpl

PRESET_DIR = Path(__file__).parent / "presets"

# (slot, name, "module:SpecClass", "module:factory", description)
BUILTIN_COMPONENTS: tuple[tuple[str, str, str, str, str], ...] = (
    ("encoder", "patch", "uva_kit.encoder.patch:PatchSpec", "uva_kit.encoder.patch:PatchEncoder",
     "raw pixels to patch tokens (no pretraining), for tests and ablations"),
    ("encoder", "kl_f16", "uva_kit.encoder.kl_f16:KLF16Spec", "uva_kit.encoder.kl_f16:KLF16Encoder",
     "the frozen LDM/MAR KL-16 VAE (16x16x16 latents of 256x256 frames, scale 0.2325); loads kl16.ckpt"),
    ("encoder", "conv_vae", "uva_kit.encoder.conv_vae:ConvVAESpec", "uva_kit.encoder.conv_vae:ConvVAEEncoder",
     "a small KL VAE trainable on CPU in minutes (uva-kit train-vae), for when no pretrained VAE exists"),
    ("attention", "sdpa", "uva_kit.attention.sdpa:SdpaSpec", "uva_kit.attention.sdpa:SdpaAttention",
     "torch scaled_dot_product_attention (flash/memory-efficient kernels on GPUs)"),
    ("attention", "math", "uva_kit.attention.math_reference:MathSpec", "uva_kit.attention.math_reference:MathAttention",
     "explicit softmax(QK^T)V in fp32: the reference"),
)


@hookimpl
def uva_kit_register(registry):
    for slot_name, name, spec, factory, description in BUILTIN_COMPONENTS:
        registry.register(slot_name, name, spec=spec, factory=factory, description=description)


@hookimpl
def uva_kit_presets():
    return {path.stem: path for path in sorted(PRESET_DIR.glob("*.toml"))}
