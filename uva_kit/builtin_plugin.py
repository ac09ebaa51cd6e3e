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
    ("attention", "flash", "uva_kit.attention.flash:FlashSpec", "uva_kit.attention.flash:FlashAttention",
     "FlashAttention 2 via flash-attn (CUDA, fp16/bf16), when installed"),
    ("attention", "xformers", "uva_kit.attention.xformers:XformersSpec", "uva_kit.attention.xformers:XformersAttention",
     "xFormers memory-efficient attention (CUDA), when installed"),
    ("backbone", "mar", "uva_kit.backbone.mar:MarSpec", "uva_kit.backbone.mar:MarBackbone",
     "MAR-style bidirectional encoder-decoder transformer over channel-fused streams"),
    ("head", "token", "uva_kit.head.token:TokenHeadSpec", "uva_kit.head.token:TokenHead",
     "video head: an AdaLN-MLP denoiser per latent token"),
    ("head", "chunk", "uva_kit.head.chunk:ChunkHeadSpec", "uva_kit.head.chunk:ChunkHead",
     "action head: conv/pool/MLP aggregation to one condition per action, then an AdaLN-MLP denoiser"),
    ("sampler", "ddpm", "uva_kit.sampler.ddpm:DdpmSpec", "uva_kit.sampler.ddpm:DdpmSampler",
     "respaced ancestral DDPM with learned-range variance and temperature (the original)"),
    ("sampler", "ddim", "uva_kit.sampler.ddim:DdimSpec", "uva_kit.sampler.ddim:DdimSampler",
     "respaced DDIM (eta = 0: deterministic given the initial noise)"),
    ("masking", "mar", "uva_kit.masking.mar:MarMaskingSpec", "uva_kit.masking.mar:MarMasking",
     "one truncated-normal ratio per batch, same positions in every future frame"),
    ("masking", "random", "uva_kit.masking.random:RandomMaskingSpec", "uva_kit.masking.random:RandomMasking",
     "application-independent: a fixed ratio of every input hidden at random (paper Table IX)"),
    ("mode", "policy", "uva_kit.mode.builtin:PolicySpec", "uva_kit.mode.base:Mode",
     "history -> actions (future video absent)"),
    ("mode", "video", "uva_kit.mode.builtin:VideoSpec", "uva_kit.mode.base:Mode",
     "history -> masked future video"),
    ("mode", "forward_dynamics", "uva_kit.mode.builtin:ForwardDynamicsSpec", "uva_kit.mode.base:Mode",
     "history + actions -> masked future video"),
    ("mode", "inverse_dynamics", "uva_kit.mode.builtin:InverseDynamicsSpec", "uva_kit.mode.base:Mode",
     "future video -> actions (history absent)"),
    ("mode", "joint", "uva_kit.mode.builtin:JointSpec", "uva_kit.mode.base:Mode",
     "history -> masked future video + actions (policy and planner)"),
    ("modality", "video", "uva_kit.modality.video:VideoModalitySpec", "uva_kit.modality.video:VideoModality",
     "future and history frames as encoder latent tokens; the video head"),
    ("modality", "action", "uva_kit.modality.action:ActionModalitySpec", "uva_kit.modality.action:build_action_modality",
     "the action chunk, repeated along the sequence; the action head"),
    ("modality", "language", "uva_kit.modality.language:LanguageModalitySpec", "uva_kit.modality.language:LanguageModality",
     "an instruction prepended as text tokens"),
    ("modality", "proprio", "uva_kit.modality.proprio:ProprioSpec", "uva_kit.modality.proprio:build_proprio_modality",
     "proprioception (PushT: agent_pos) at each history frame, as an input stream"),
    ("text_encoder", "task_embedding", "uva_kit.text_encoder.task_embedding:TaskEmbeddingSpec",
     "uva_kit.text_encoder.task_embedding:TaskEmbedding", "a learned vector per instruction"),
    ("text_encoder", "clip", "uva_kit.text_encoder.clip:ClipSpec", "uva_kit.text_encoder.clip:ClipTextEncoder",
     "frozen CLIP text tower from a local folder (needs uva_kit[clip])"),
)


@hookimpl
def uva_kit_register(registry):
    for slot_name, name, spec, factory, description in BUILTIN_COMPONENTS:
        registry.register(slot_name, name, spec=spec, factory=factory, description=description)


@hookimpl
def uva_kit_presets():
    return {path.stem: path for path in sorted(PRESET_DIR.glob("*.toml"))}
