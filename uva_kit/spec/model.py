"""The top-level spec of a UVA model: the data layout and one component per slot."""

from __future__ import annotations

from typing import Literal

import attrs

from uva_kit.errors import SpecError
from uva_kit.spec.component import ComponentSpec, default_component, slot
from uva_kit.spec.migrations import CURRENT_SPEC_VERSION
from uva_kit.spec.training import TrainingSpec
from uva_kit.spec.validators import positive


@attrs.frozen
class LayoutSpec:
    """UVA's time layout and shapes (defaults: PushT as in the original; see docs/datasets-and-environments.md)."""

    image_size: int = attrs.field(default=256, validator=positive)
    action_dim: int = attrs.field(default=2, validator=positive)
    history_frames: int = attrs.field(default=4, validator=positive)
    future_frames: int = attrs.field(default=4, validator=positive)
    action_chunk: int = attrs.field(default=16, validator=positive)
    horizon: int = attrs.field(default=32, validator=positive)
    frame_stride: int = attrs.field(default=4, validator=positive)
    frame_offset: int = 3
    pad_before: int = 1
    pad_after: int = 7


@attrs.frozen
class DiffusionSpec:
    """The noise schedule shared by every diffusion head (training steps; sampling steps are the sampler's)."""

    schedule: Literal["cosine", "linear"] = "cosine"
    train_steps: int = attrs.field(default=1000, validator=positive)


@attrs.frozen
class ModeWeight:
    """One entry of the training mixture: a mode and its sampling weight."""

    mode: ComponentSpec = slot("mode")
    weight: float = attrs.field(default=1.0, validator=positive)


DEFAULT_MODES = ("policy", "video", "forward_dynamics", "inverse_dynamics", "joint")


def _default_mixture() -> tuple[ModeWeight, ...]:
    """The original's stage-2 mixture: all five modes, drawn uniformly."""
    return tuple(ModeWeight(mode=default_component("mode", name)) for name in DEFAULT_MODES)


@attrs.frozen
class UVASpec:
    """Everything ``uva_kit.build`` needs to assemble a model.

    ``deviations`` names every place where a preset departs from the paper (for speed or CPU).
    ``modalities`` must include ``video``. ``text_encoder`` is only for the ``language`` modality
    (``task_embedding`` when unset). ``modes`` is the training mixture: one mode is drawn per batch
    with probability proportional to its weight.
    """

    name: str = "custom"
    spec_version: int = CURRENT_SPEC_VERSION
    description: str = ""
    deviations: tuple[str, ...] = ()
    layout: LayoutSpec = attrs.field(factory=LayoutSpec)
    encoder: ComponentSpec = slot("encoder", "patch")
    attention: ComponentSpec = slot("attention", "sdpa")
    backbone: ComponentSpec = slot("backbone", "mar")
    modalities: tuple[ComponentSpec, ...] = slot("modality", ("video", "action"), many=True)
    masking: ComponentSpec = slot("masking", "mar")
    sampler: ComponentSpec = slot("sampler", "ddpm")
    diffusion: DiffusionSpec = attrs.field(factory=DiffusionSpec)
    text_encoder: ComponentSpec | None = slot("text_encoder", optional=True)
    modes: tuple[ModeWeight, ...] = attrs.field(factory=_default_mixture)
    training: TrainingSpec = attrs.field(factory=TrainingSpec)

    def __str__(self) -> str:
        """The whole spec as YAML, as ``uva-kit spec`` prints it (``repr`` gives the one-line attrs form)."""
        import yaml

        from uva_kit.spec.parse import to_dict

        return yaml.safe_dump(to_dict(self), sort_keys=False)

    def __attrs_post_init__(self):
        """Checks across slots (the model checks the rest when it is built)."""
        sample_steps = getattr(self.sampler, "steps", None)
        if isinstance(sample_steps, int) and sample_steps > self.diffusion.train_steps:
            train_steps = self.diffusion.train_steps
            raise SpecError("sampler.steps", f"{sample_steps} is more than diffusion.train_steps ({train_steps}): sampling "
                            f"keeps a subset of the training steps; use at most {train_steps}.")
