"""The plugin module named by the ``uva_kit.plugins`` entry point: registers ``sound``, the ``frame`` head
and a preset. References are lazy strings, so discovering this plugin never imports torch."""

from __future__ import annotations

from pathlib import Path

from uva_kit import hookimpl

PRESET_DIR = Path(__file__).parent / "presets"


@hookimpl
def uva_kit_register(registry):
    registry.register(
        "modality", "sound", spec="uva_kit_sound.modality:SoundModalitySpec", factory="uva_kit_sound.modality:SoundModality",
        description="a log-mel vector per video frame, synthesized from the contact impulses; the frame head",
    )
    registry.register(
        "head", "frame", spec="uva_kit_sound.head:FrameHeadSpec", factory="uva_kit_sound.head:FrameHead",
        description="per-frame signals: each frame's latents mean-pooled to one condition, then an AdaLN-MLP denoiser",
    )


@hookimpl
def uva_kit_presets():
    return {path.stem: path for path in sorted(PRESET_DIR.glob("*.toml"))}
