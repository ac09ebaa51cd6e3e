"""The UVA model: frames -> encoder latents -> fused streams -> backbone -> diffusion heads.

Batch keys read by ``compute_loss`` (shapes with the spec's layout; T = layout.future_frames):

| key               | shape / type            | notes                                                     |
|-------------------|-------------------------|-----------------------------------------------------------|
| "history_frames"  | (B, T, 3, H, W) in [0,1] | resized to layout.image_size when H, W differ             |
| "future_frames"   | (B, T, 3, H, W) in [0,1] | the frames after the history (same count)                 |
| "*_latents"       | (B, T, C, h, w)         | instead of "*_frames": encoder latents from a latent cache |
| "actions"         | (B, L, action_dim)      | optional (action-free video); environment units, mapped to [-1, 1] by ``action_normalizer`` |
| "instruction"     | str or list of B str    | required when the spec has the language modality; inference methods also take ``instruction_tokens(...)`` |
| plugin keys       | per plugin modality     | its ``data_key``                                           |

Actions in and out of every public method are in environment units; the model's
``action_normalizer`` (identity until its range is set) converts them.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator, Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from uva_kit.attention.dispatch import AttentionDispatcher
from uva_kit.encoder.latent_posterior import LatentPosterior, encoder_posterior
from uva_kit.errors import InputError, MissingKeyError, SpecError
from uva_kit.modality.base import Modality, ModalityContext
from uva_kit.modality.language import instruction_list
from uva_kit.mode.base import HISTORY, VIDEO, Mode
from uva_kit.model.grid import TokenGrid
from uva_kit.registry import default_registry
from uva_kit.spec.model import UVASpec

FRAME_RANGE_SLACK = 1e-3
# a task for the language modality: one string, B strings, or its prefix tokens from ``instruction_tokens``
Instruction = str | Sequence[str] | torch.Tensor | None


class UnusedModalityWarning(UserWarning):
    """An input-only modality that no mode of the training mixture gives: the model never reads it."""


def check_frames(frames: torch.Tensor, what: str, *, values: bool = True) -> None:
    """Refuse integer frames and, with ``values`` (a device sync), frames outside [0, 1] or not finite: pixels
    in 0..255 or frames in [-1, 1] would encode to garbage silently."""
    if not frames.is_floating_point():
        raise InputError(f"'{what}' must be floats in [0, 1], got {frames.dtype}: divide {frames.dtype} pixels by 255")
    if not values or not frames.numel():
        return
    low, high = (float(v) for v in torch.aminmax(frames.detach()))
    if not (-FRAME_RANGE_SLACK <= low and high <= 1 + FRAME_RANGE_SLACK):
        raise InputError(f"'{what}' must be finite and in [0, 1], got values in [{low:g}, {high:g}]: divide 0..255 "
                         "pixels by 255, map [-1, 1] frames with (x + 1) / 2")


class Plan(NamedTuple):
    """``plan``'s result: actions (B, L, action_dim) and the predicted future frames (B, T, 3, H, W)."""

    actions: torch.Tensor
    frames: torch.Tensor


class UVAModel(nn.Module):
    """A UVA model, built by ``uva_kit.build(spec)`` or ``uva_kit.load(dir)``; ``print(model.summary())`` shows it.

    With T = ``spec.layout.history_frames`` and L = ``spec.layout.action_chunk``, frames are (B, T, 3, H, W)
    floats in [0, 1] (resized to ``layout.image_size``) and actions (B, L, action_dim) in environment units:

    * ``predict_actions(history)`` -> (B, L, action_dim): the policy (one backbone pass, no video head);
    * ``generate_video(history, num_iter)`` -> (B, T, 3, image_size, image_size) in [0, 1];
    * ``forward_dynamics(history, actions)`` -> future frames; ``inverse_dynamics(history, future)`` -> actions;
    * ``plan(history)`` -> ``Plan(actions, frames)``;
    * ``compute_loss(batch)`` (also ``model(batch)``) -> (loss, metrics): training.

    Each takes ``instruction=`` (a string, B strings, or ``instruction_tokens(...)``) when the spec has the
    language modality, and ``inputs={modality: value}`` for the other streams its mode is given.

    The inference methods switch to eval mode (no dropout) and ``torch.no_grad`` for the call and back after;
    inputs are moved to the model's ``device`` and cast to its ``dtype``, which the outputs have. Every random
    draw comes from ``generator=`` (a ``torch.Generator`` on the model's device) when given, else from
    torch's global RNG: the same seed gives the same output.
    """

    def __init__(self, spec: UVASpec):
        super().__init__()
        registry = default_registry()
        self.spec = spec
        layout = spec.layout
        if layout.history_frames != layout.future_frames:
            raise SpecError("layout", f"history_frames ({layout.history_frames}) must equal future_frames "
                            f"({layout.future_frames}): history frame i is fused with future frame i.")
        self.encoder = registry.get("encoder", spec.encoder.type).build(spec.encoder).requires_grad_(False).eval()
        factor = self.encoder.downsample
        if layout.image_size % factor:
            below, above = layout.image_size // factor * factor, (layout.image_size // factor + 1) * factor
            closest = f"{below} or {above}" if below else str(above)
            raise SpecError("layout.image_size", f"{layout.image_size} is not a multiple of the encoder's "
                            f"downsampling factor {factor}: use {closest}.")
        side = layout.image_size // factor
        self.grid = TokenGrid(layout.future_frames, side, side, self.encoder.latent_channels)
        width = getattr(spec.backbone, "width", None)
        if not isinstance(width, int):
            raise SpecError("backbone", f"backbone '{spec.backbone.type}' has no integer 'width' option (needed by the heads).")

        names = [m.type for m in spec.modalities]
        if VIDEO not in names:
            raise SpecError("modalities", "the video modality is required: add {type = \"video\"}.")
        if len(set(names)) != len(names):
            raise SpecError("modalities", f"a modality is listed twice: {names}.")
        text_encoder = None
        if "language" in names:
            text_spec = spec.text_encoder or registry.get("text_encoder", "task_embedding").default_spec()
            text_encoder = registry.get("text_encoder", text_spec.type).build(text_spec)
        elif spec.text_encoder is not None:
            raise SpecError("text_encoder", "set, but the spec has no language modality to use it; add {type = \"language\"}.")
        context = ModalityContext(width=width, layout=layout, grid=self.grid, diffusion=spec.diffusion, text_encoder=text_encoder)
        ordered = [VIDEO] + [n for n in names if n != VIDEO]
        by_name = {m.type: m for m in spec.modalities}
        self.modalities = nn.ModuleDict(
            {name: registry.get("modality", name).build(by_name[name], context=context) for name in ordered}
        )
        self.stream_modalities = [m for m in self.modalities.values() if m.streams]
        prefixes = [m.name for m in self.modalities.values() if m.prefix_tokens]
        if len(prefixes) > 1:
            raise SpecError("modalities", f"at most one prefix modality is supported, got {prefixes}.")
        self._prefix_name = prefixes[0] if prefixes else None

        # Every block calls this dispatcher; it forwards to the spec's backend unless UVA_KIT_ATTN_BACKEND,
        # set_attention_backend() or uva_kit.attention.dispatch.use() chose another.
        self.attention = AttentionDispatcher(registry.get("attention", spec.attention.type).build(spec.attention))
        self.backbone = registry.get("backbone", spec.backbone.type).build(
            spec.backbone, streams=sum(len(m.streams) for m in self.stream_modalities), grid=self.grid,
            attention=self.attention, prefix_tokens=self.prefix_modality.prefix_tokens if self.prefix_modality else 0,
        )
        self.masking = registry.get("masking", spec.masking.type).build(spec.masking)
        self.sampler = registry.get("sampler", spec.sampler.type).build(spec.sampler, diffusion=spec.diffusion)
        self.mixture = [(self._checked_mode(entry.mode, f"modes.{i}.mode"), entry.weight) for i, entry in enumerate(spec.modes)]
        if not self.mixture:
            raise SpecError("modes", "the training mixture is empty; list at least one mode.")
        if len({mode.name for mode, _ in self.mixture}) != len(self.mixture):
            raise SpecError("modes", "a mode is listed twice in the mixture.")
        self._warn_unread_inputs()

    # ----------------------------------------------------------------------------------- set-up

    def _checked_mode(self, mode_spec, path: str) -> Mode:
        mode = default_registry().get("mode", mode_spec.type).build(mode_spec)
        streams = {s for m in self.stream_modalities for s in m.streams}
        for name in mode.spec.given:
            if name not in streams:
                raise SpecError(f"{path}.given", f"'{name}' is not a stream modality of this model; streams: {sorted(streams)}.")
        for name in mode.losses:
            modality = self.modalities[name] if name in self.modalities else None
            if modality is None or modality.head is None:
                with_heads = sorted(n for n, m in self.modalities.items() if m.head is not None)
                raise SpecError(f"{path}.losses", f"mode '{mode.name}' trains '{name}', which has no head in this model; "
                                f"modalities with a head: {with_heads}.")
        return mode

    def summary(self) -> str:
        """A few lines: the spec's name, device, dtype, and the parameters of each component."""
        def count(module: nn.Module) -> str:
            total = sum(p.numel() for p in module.parameters())
            frozen = total and not any(p.requires_grad for p in module.parameters())
            return f"{total:>12,}" + (" (frozen)" if frozen else "")

        parts = [("encoder", self.spec.encoder.type, self.encoder), ("backbone", self.spec.backbone.type, self.backbone),
                 *(("modality", name, modality) for name, modality in self.modalities.items())]
        mixture = ", ".join(f"{mode.name} {weight:g}" for mode, weight in self.mixture)
        return "\n".join([
            f"UVAModel {self.extra_repr()}",
            *(f"  {slot:<9}{name:<18}{count(module)}" for slot, name, module in parts),
            f"  sampler  {self.spec.sampler}; attention {self.attention_backend}",
            f"  modes    {mixture}",
        ])

    def extra_repr(self) -> str:
        """The headline ``repr(model)`` starts with."""
        trainable = sum(p.numel() for p in self.parameters() if p.requires_grad)
        return f"'{self.spec.name}' on {self.device}, {self.dtype}: {trainable:,} trainable parameters"

    def _warn_unread_inputs(self) -> None:
        for modality in self.stream_modalities:
            given = any(mode.needs(modality.name) for mode, _ in self.mixture)
            if modality.name != VIDEO and modality.head is None and not given:
                warnings.warn(f"modality '{modality.name}' has no head and no mode of the mixture gives it, so the "
                              f"model never reads it: list it in a mode's given, e.g. "
                              f"--set \"modes.0.mode.given=['{modality.name}']\" (modes.0 is the policy by default)",
                              UnusedModalityWarning, stacklevel=4)

    def set_attention_backend(self, name: str) -> None:
        """Run the backbone's attention through backend ``name`` (``sdpa``, ``math``, ``flash``, ``xformers``, ...)."""
        self.attention.set_backend(name)

    @property
    def attention_backend(self) -> str:
        """The name of the attention backend in use now."""
        return self.attention.active.name

    def mode(self, name: str) -> Mode:
        """The mode ``name``: as configured in the training mixture, else the registered defaults."""
        for mode, _ in self.mixture:
            if mode.name == name:
                return mode
        return self._checked_mode(default_registry().get("mode", name).default_spec(), f"mode '{name}'")

    @property
    def policy_observations(self) -> dict[str, str]:
        """The stream modalities the policy mode is given besides frames, name -> data key: what an env-facing
        policy reads from each observation (``{"proprio": "agent_pos"}``; empty for a vision-only policy)."""
        return {name: self.modalities[name].data_key for name in self.mode("policy").spec.given}

    @property
    def prefix_modality(self) -> Modality | None:
        """The modality whose tokens are prepended along the sequence (language), if any."""
        return None if self._prefix_name is None else self.modalities[self._prefix_name]

    @property
    def action_normalizer(self) -> nn.Module:
        """Environment units <-> [-1, 1] for actions (saved with the model; identity by default)."""
        return self._action_modality().normalizer

    def _action_modality(self, need_head: bool = False) -> Modality:
        modality = self.modalities["action"] if "action" in self.modalities else None
        if modality is None or (need_head and modality.head is None):
            raise SpecError("modalities", "this model has no action head (add the action modality with predict = true).")
        return modality

    def train(self, mode: bool = True):
        super().train(mode)
        self.encoder.eval()  # frozen: always in inference mode
        return self

    @contextlib.contextmanager
    def _inference(self) -> Iterator[None]:
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                yield
        finally:
            self.train(was_training)

    @property
    def device(self) -> torch.device:
        """Where the weights are; inputs are moved here."""
        return self.backbone.fusion.weight.device

    @property
    def dtype(self) -> torch.dtype:
        """The floating dtype of the weights (float32 unless ``model.to(dtype)``); inputs are cast to it."""
        return self.backbone.fusion.weight.dtype

    # ----------------------------------------------------------------------------------- frames

    def resize_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """Frames (B, T, 3, H, W) in [0, 1] on the model's device, resized to layout.image_size (bilinear)."""
        frames = torch.as_tensor(frames)
        if frames.dim() != 5 or frames.shape[2] != 3:
            channels_last = frames.dim() == 5 and frames.shape[-1] == 3
            raise InputError(f"frames must be (B, T, 3, H, W) in [0, 1], got {tuple(frames.shape)}"
                             + (": channels last? move them first with .permute(0, 1, 4, 2, 3)" if channels_last else ""))
        check_frames(frames, "frames", values=False)  # no sync: this runs inside CUDA-graph capture too
        batch, time = frames.shape[:2]
        size = self.spec.layout.image_size
        frames = frames.to(self.device, self.dtype)
        if frames.shape[-2:] != (size, size):
            flat = F.interpolate(frames.reshape(batch * time, 3, *frames.shape[-2:]), size=(size, size), mode="bilinear",
                                 align_corners=False)
            frames = flat.reshape(batch, time, 3, size, size)
        return frames

    def encode_frames(
        self, frames: torch.Tensor, generator: torch.Generator | None = None, noise: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Frames (B, T, 3, H, W) in [0, 1] -> encoder latents (B, T, C, h, w), resized to layout.image_size first.

        ``noise`` (B, T, C, h, w), standard normal, replaces the generator's draw of a sampling
        encoder's posterior: latents = mean + std * noise.
        """
        if noise is None:
            with torch.no_grad():
                return self.encoder.encode(self.resize_frames(frames), generator=generator)
        posterior = self.encode_posterior(frames)
        if posterior.logvar is None:
            raise InputError(f"encoder '{self.spec.encoder.type}' does not sample a posterior: it takes no noise")
        if noise.shape != posterior.mean.shape:
            raise InputError(f"posterior noise must be {tuple(posterior.mean.shape)} like the latents, "
                             f"got {tuple(noise.shape)}")
        return posterior.mean + torch.exp(0.5 * posterior.logvar) * noise.to(posterior.mean)

    def encode_posterior(self, frames: torch.Tensor) -> LatentPosterior:
        """Frames (B, T, 3, H, W) in [0, 1] -> what the encoder says of them before a draw: the posterior
        moments of a sampling encoder, else its latents. ``.draw(generator)`` gives what ``encode_frames`` gives."""
        with torch.no_grad():
            return encoder_posterior(self.encoder, self.resize_frames(frames))

    def decode_latents(self, latents: torch.Tensor) -> torch.Tensor:
        """Encoder latents (B, T, C, h, w) -> frames (B, T, 3, image_size, image_size) in [0, 1]."""
        with torch.no_grad():
            return self.encoder.decode(latents)

    @property
    def latent_standardizer(self) -> nn.Module | None:
        """The video modality's ``LatentStandardizer`` when its spec sets ``standardize``, else None."""
        return getattr(self.modalities[VIDEO], "standardizer", None)

    def _latent_tokens(self, latents: torch.Tensor, what: str) -> torch.Tensor:
        grid = self.grid
        expected = (grid.frames, grid.channels, grid.height, grid.width)
        if tuple(latents.shape[1:]) != expected:
            raise InputError(f"{what} latents must be (B, {', '.join(map(str, expected))}), got {tuple(latents.shape)}")
        tokens = latents.permute(0, 1, 3, 4, 2).reshape(latents.shape[0], grid.length, grid.channels)
        standardizer = self.latent_standardizer
        return tokens if standardizer is None else standardizer.standardize(tokens)

    def _tokens_to_latents(self, tokens: torch.Tensor) -> torch.Tensor:
        grid = self.grid
        standardizer = self.latent_standardizer
        if standardizer is not None:
            tokens = standardizer.unstandardize(tokens)
        return tokens.reshape(-1, grid.frames, grid.height, grid.width, grid.channels).permute(0, 1, 4, 2, 3)

    def _frame_tokens(self, frames: torch.Tensor, what: str, generator=None, noise=None) -> torch.Tensor:
        frames = torch.as_tensor(frames)
        if frames.dim() != 5 or frames.shape[1] != self.grid.frames:
            raise InputError(f"'{what}' must be (B, {self.grid.frames}, 3, H, W), got {tuple(frames.shape)}"
                             + (": one sample? add the batch dimension with frames[None]" if frames.dim() == 4 else ""))
        check_frames(frames, what, values=not self.training)  # training: fit checks its data once, not every step
        return self._latent_tokens(self.encode_frames(frames, generator, noise), what)

    # ----------------------------------------------------------------------------------- core

    def joint_latents(
        self, mode: Mode, data: dict[str, torch.Tensor], batch: int, future_mask: torch.Tensor | None = None,
        instruction: Instruction = None, generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """The backbone's joint latents z (B, L, width) with every stream filled as ``mode`` says.

        ``data`` maps stream names to prepared data; ``future_mask`` (B, L) hides future tokens when
        the mode's future video is 'masked'.
        """
        streams = self._stream_tokens(mode, data, batch, future_mask, generator)
        return self.backbone(streams, self._prefix_tokens(instruction, batch, generator))

    def _stream_tokens(self, mode: Mode, data: dict[str, torch.Tensor], batch: int, future_mask: torch.Tensor | None,
                       generator) -> list[torch.Tensor]:
        """One (B, L, width) token tensor per stream: its absent token, or its embedded data with the hidden
        positions (``future_mask`` when masked, training's input drop otherwise) replaced by the absent token."""
        length = self.grid.length
        streams = []
        for modality in self.stream_modalities:
            for stream in modality.streams:
                state = mode.stream_state(stream)
                absent = modality.absent_token(stream).expand(batch, length, -1)
                if state == "absent":
                    streams.append(absent)
                    continue
                if stream not in data:
                    key = getattr(modality, "data_key", stream)
                    raise InputError(f"mode '{mode.name}' needs '{stream}' data, which was not given: inference methods "
                                     f"take it as inputs={{'{modality.name}': ...}}, batches as '{key}'")
                if data[stream].shape[0] != batch:
                    sizes = {name: value.shape[0] for name, value in data.items()}
                    raise InputError(f"the inputs disagree on the batch size: B = {batch} from the frames, but {sizes}; "
                                     "give every input the same B")
                tokens = modality.embed(stream, data[stream])
                if state == "masked":
                    hidden = future_mask
                else:
                    hidden = self.masking.input_drop(batch, length, generator=generator, device=tokens.device) if self.training else None
                if hidden is not None:
                    tokens = torch.where(hidden.reshape(batch, length, 1), absent, tokens)
                streams.append(tokens)
        return streams

    def _prefix_tokens(self, instruction, batch: int, generator) -> torch.Tensor | None:
        """The prefix modality's tokens (B, prefix_tokens, width) for ``instruction`` (text, or tokens from
        ``instruction_tokens``); None for a model without one."""
        if self.prefix_modality is None:
            if instruction is not None:
                raise InputError("this model has no language modality: it cannot read an instruction (pass none)")
            return None
        if instruction is None:
            raise InputError(f"this model reads '{self.prefix_modality.data_key}': pass instruction=...")
        if isinstance(instruction, torch.Tensor):
            expected = (batch, self.prefix_modality.prefix_tokens, self.spec.backbone.width)
            if tuple(instruction.shape) != expected:
                raise InputError(f"instruction tokens must be {expected} (from model.instruction_tokens), "
                                 f"got {tuple(instruction.shape)}")
            return instruction
        return self.prefix_modality.prefix(instruction_list(instruction, batch), generator=generator)

    def _batch_tokens(self, batch: dict, which: str, generator) -> torch.Tensor:
        """Tokens of the batch's ``{which}_latents`` (from a latent cache) or else of its ``{which}_frames``."""
        latents = batch.get(f"{which}_latents")
        if latents is not None:
            return self._latent_tokens(latents.to(self.device, self.dtype), f"{which}_latents")
        return self._frame_tokens(batch[f"{which}_frames"], f"{which}_frames", generator)

    def compute_loss(
        self, batch: dict, *, mode: str | None = None, generator: torch.Generator | None = None,
        metrics_on_device: bool = False,
    ) -> tuple[torch.Tensor, dict]:
        """The training loss of one batch (keys in the module docstring) under one mode.

        The mode is drawn from the spec's mixture among the modes whose data the batch has (a batch
        without "actions" trains only the modes that need no actions), or forced with ``mode=``.
        Returns (loss, metrics): metrics has "loss", "loss/<modality>" (floats) and "mode" (its name).
        ``metrics_on_device=True`` leaves the losses in metrics as detached 0-d tensors on the model's
        device: reading a float waits for the device, which the training loop does only when it logs.
        Every random draw comes from ``generator`` when given: a generator on the model's device.
        """
        for which in ("history", "future"):
            if f"{which}_frames" not in batch and f"{which}_latents" not in batch:
                raise MissingKeyError(f"the batch has no '{which}_frames' (or cached '{which}_latents'); expected keys: "
                               "history_frames, future_frames, actions (optional)")
        data = {HISTORY: self._batch_tokens(batch, "history", generator), VIDEO: self._batch_tokens(batch, "future", generator)}
        size = data[VIDEO].shape[0]
        for modality in self.stream_modalities[1:]:
            if batch.get(modality.data_key) is not None:
                data[modality.name] = modality.prepare(batch[modality.data_key].to(self.device, self.dtype))
        chosen = self._choose_mode(mode, set(data), generator)
        future_mask = None
        if chosen.stream_state(VIDEO) == "masked":
            grid = self.grid
            future_mask = self.masking.future_mask(size, grid.frames, grid.tokens_per_frame, generator=generator,
                                                   device=self.device).reshape(size, grid.length)
        instruction = batch.get("instruction") if self.prefix_modality is not None else None  # datasets may carry one
        z = self.joint_latents(chosen, data, size, future_mask, instruction, generator)
        losses = {}
        for name in chosen.losses:
            weight = future_mask if name == VIDEO else None
            losses[name] = self.modalities[name].head.loss(z, data[name], weight, generator)
        total = sum(losses.values())
        metrics = {key: value.detach() if metrics_on_device else float(value.detach())
                   for key, value in {"loss": total, **{f"loss/{k}": v for k, v in losses.items()}}.items()}
        metrics["mode"] = chosen.name
        return total, metrics

    def forward(self, batch: dict, **kwargs) -> tuple[torch.Tensor, dict]:
        """``compute_loss`` (the training entry point, so DistributedDataParallel can wrap the model)."""
        return self.compute_loss(batch, **kwargs)

    def _choose_mode(self, name: str | None, available: set[str], generator) -> Mode:
        def has_data(mode: Mode) -> bool:
            return all(not mode.needs(m.name) or m.name in available for m in self.stream_modalities[1:])

        if name is not None:
            mode = self.mode(name)
            if not has_data(mode):
                raise InputError(f"mode '{name}' needs data the batch lacks (has: {sorted(available)})")
            return mode
        eligible = [(mode, weight) for mode, weight in self.mixture if has_data(mode)]
        if not eligible:
            raise InputError(f"no mode of the mixture {[m.name for m, _ in self.mixture]} can train on a batch with only "
                             f"{sorted(available)}; add 'actions' to the batch or a video mode to the mixture")
        device = generator.device if generator is not None else None  # a generator draws on its own device
        weights = torch.tensor([w for _, w in eligible], dtype=torch.float64, device=device)
        return eligible[int(torch.multinomial(weights, 1, generator=generator))][0]

    # ----------------------------------------------------------------------------------- inference

    def _history_data(self, mode: Mode, history_frames, history_latents, generator, noise=None) -> tuple[dict, int]:
        if history_frames is not None and history_latents is not None:
            raise InputError("pass history_frames or history_latents, not both")
        if mode.stream_state(HISTORY) == "absent":
            reference = history_frames if history_frames is not None else history_latents
            return {}, reference.shape[0]
        if history_latents is not None:
            tokens = self._latent_tokens(torch.as_tensor(history_latents, device=self.device, dtype=self.dtype), "history")
        elif history_frames is not None:
            tokens = self._frame_tokens(history_frames, "history_frames", generator, noise)
        else:
            raise InputError("pass history_frames (B, T, 3, H, W) or history_latents (B, T, C, h, w)")
        return {HISTORY: tokens}, tokens.shape[0]

    def _sample_actions(self, z: torch.Tensor, generator, steps, noise=None) -> torch.Tensor:
        modality = self._action_modality(need_head=True)
        return modality.restore(modality.head.sample(z, self.sampler, generator, steps, noise))

    def policy_latents(
        self, history_frames: torch.Tensor | None = None, *, history_latents: torch.Tensor | None = None,
        instruction: Instruction = None, inputs: dict[str, torch.Tensor] | None = None, generator: torch.Generator | None = None,
        posterior_noise: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The backbone's joint latents z (B, L, width) in policy mode (the first half of ``predict_actions``)."""
        if posterior_noise is not None and history_latents is not None:
            raise InputError("posterior_noise is for encoding history_frames; history_latents are already sampled")
        with self._inference():
            mode = self.mode("policy")
            data, size = self._history_data(mode, history_frames, history_latents, generator, posterior_noise)
            data.update(self._given_inputs(inputs))
            return self.joint_latents(mode, data, size, None, instruction, generator)

    def instruction_tokens(self, instruction: str | Sequence[str], batch: int) -> torch.Tensor:
        """The language modality's prefix tokens (B, num_tokens, width) for ``instruction`` (a string or B
        strings). Inference methods take them as ``instruction=``: the text is then not encoded again, and
        nothing crosses from the host (what a CUDA graph of the backbone needs)."""
        if self.prefix_modality is None:
            raise InputError("this model reads no instruction: its spec has no language modality")
        with self._inference():
            return self.prefix_modality.prefix(instruction_list(instruction, batch))

    def sample_actions(
        self, z: torch.Tensor, *, generator: torch.Generator | None = None, steps: int | None = None,
        noise: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Actions (B, L, action_dim) from joint latents z by the action head (the second half of ``predict_actions``)."""
        with self._inference():
            return self._sample_actions(z, generator, steps, noise)

    def action_noise(self, batch: int, generator: torch.Generator | None = None, steps: int | None = None) -> torch.Tensor:
        """The noise ``predict_actions`` draws from ``generator`` for ``batch`` samples, as (S + 1, B * L, action_dim)
        (its ``action_noise`` takes this): the action head's ``draw_noise``, per action or shared per sample."""
        modality = self._action_modality(need_head=True)
        return modality.head.draw_noise(self.sampler, batch, modality.length, generator, steps, self.device, self.dtype)

    def _given_inputs(self, inputs: dict | None) -> dict[str, torch.Tensor]:
        """Batch values of stream modalities by modality name -> prepared stream data."""
        prepared = {}
        for name, value in (inputs or {}).items():
            modality = self.modalities[name] if name in self.modalities else None
            if modality is None or not modality.streams or name == VIDEO:
                streams = sorted(m.name for m in self.stream_modalities[1:])
                raise InputError(f"inputs: '{name}' is not a stream modality of this model; choose from {streams}")
            prepared[name] = modality.prepare(torch.as_tensor(value, device=self.device, dtype=self.dtype))
        return prepared

    def predict_actions(
        self, history_frames: torch.Tensor | None = None, *, history_latents: torch.Tensor | None = None,
        instruction: Instruction = None, inputs: dict[str, torch.Tensor] | None = None, generator: torch.Generator | None = None,
        steps: int | None = None, posterior_noise: torch.Tensor | None = None, action_noise: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Policy: actions (B, L, action_dim) in environment units from history frames (B, T, 3, H, W) in [0, 1],
        by one backbone pass and the action head (never the video head).

        ``history_latents`` (B, T, C, h, w) replaces ``history_frames`` when the caller cached them.
        ``inputs`` gives the stream modalities the policy mode takes, by name (``model.policy_observations``;
        e.g. ``{"proprio": state}``, (B, T, dim) at the history frames). ``steps``: sampling steps (default: the
        spec's ``sampler.steps``). Every random draw comes from ``generator``, or from given standard-normal tensors:
        ``posterior_noise`` (B, T, C, h, w) for the encoder's posterior sample of the history frames,
        ``action_noise`` (S + 1, B, L, action_dim) or (S + 1, B * L, action_dim) for the S sampling steps (``[0]``
        is the initial noise; ``model.action_noise(B, generator)`` draws it as this method would).
        """
        z = self.policy_latents(history_frames, history_latents=history_latents, instruction=instruction, inputs=inputs,
                                generator=generator, posterior_noise=posterior_noise)
        return self.sample_actions(z, generator=generator, steps=steps, noise=action_noise)

    def predict_modality(
        self, name: str, history_frames: torch.Tensor | None = None, *, mode: str = "policy",
        inputs: dict[str, torch.Tensor] | None = None, future_frames: torch.Tensor | None = None,
        instruction: Instruction = None, generator: torch.Generator | None = None, steps: int | None = None,
    ) -> torch.Tensor:
        """Sample modality ``name``'s head after one backbone pass under ``mode``, in batch units.

        For a plugin modality, e.g. a force chunk from the policy (a ``policy`` mode with
        ``losses = ["action", "force"]``). ``inputs`` maps the mode's given stream modalities to their
        batch values (``{"action": actions}``); ``future_frames`` is needed when the mode gives the
        future video. Modes that mask the future video are generated with ``plan``/``generate_video``.
        """
        with self._inference():
            chosen = self.mode(mode)
            modality = self.modalities[name] if name in self.modalities else None
            if modality is None or modality.head is None:
                with_heads = sorted(n for n, m in self.modalities.items() if m.head is not None and n != VIDEO)
                raise SpecError("modalities", f"this model has no head for '{name}'; modalities with a head: {with_heads}.")
            if chosen.stream_state(VIDEO) == "masked":
                raise InputError(f"mode '{mode}' masks the future video; predict_modality runs modes with the future "
                                 "video absent or given (policy, inverse_dynamics)")
            if history_frames is None and chosen.stream_state(HISTORY) == "absent":
                history_frames = future_frames  # only its batch size is read
            data, size = self._history_data(chosen, history_frames, None, generator)
            data.update(self._given_inputs(inputs))
            if chosen.stream_state(VIDEO) == "given":
                if future_frames is None:
                    raise InputError(f"mode '{mode}' gives the future video: pass future_frames=")
                data[VIDEO] = self._frame_tokens(future_frames, "future_frames", generator)
            z = self.joint_latents(chosen, data, size, None, instruction, generator)
            return modality.restore(modality.head.sample(z, self.sampler, generator, steps))

    def inverse_dynamics(
        self, history_frames: torch.Tensor, future_frames: torch.Tensor, *, instruction: Instruction = None,
        inputs: dict[str, torch.Tensor] | None = None, generator: torch.Generator | None = None, steps: int | None = None,
    ) -> torch.Tensor:
        """Actions (B, L, action_dim) in environment units that lead from ``history_frames`` to ``future_frames``,
        both (B, T, 3, H, W) in [0, 1]. ``steps``: sampling steps (default: the spec's ``sampler.steps``)."""
        with self._inference():
            mode = self.mode("inverse_dynamics")
            data, size = self._history_data(mode, history_frames, None, generator)
            data.update(self._given_inputs(inputs))
            data[VIDEO] = self._frame_tokens(future_frames, "future_frames", generator)
            z = self.joint_latents(mode, data, size, None, instruction, generator)
            return self._sample_actions(z, generator, steps)

    def generate_video(
        self, history_frames: torch.Tensor, num_iter: int = 1, *, instruction: Instruction = None,
        inputs: dict[str, torch.Tensor] | None = None, generator: torch.Generator | None = None, steps: int | None = None,
    ) -> torch.Tensor:
        """Video model: the future frames (B, T, 3, image_size, image_size) in [0, 1] after ``history_frames``
        (B, T, 3, H, W) in [0, 1].

        The future tokens are revealed MAR-style over ``num_iter`` passes (1 to the tokens per frame), each a
        backbone pass and video-head sampling; ``steps``: sampling steps (default: the spec's ``sampler.steps``).
        """
        with self._inference():
            given = self._given_inputs(inputs)
            frames, _ = self._generate("video", history_frames, given, num_iter, instruction, generator, steps, False)
            return frames

    def forward_dynamics(
        self, history_frames: torch.Tensor, actions: torch.Tensor, num_iter: int = 1, *, instruction: Instruction = None,
        inputs: dict[str, torch.Tensor] | None = None, generator: torch.Generator | None = None, steps: int | None = None,
    ) -> torch.Tensor:
        """Future frames (B, T, 3, image_size, image_size) in [0, 1] given ``history_frames`` (B, T, 3, H, W) and
        ``actions`` (B, L, action_dim) in environment units; ``num_iter`` and ``steps`` as in ``generate_video``.

        ``inputs`` gives further stream modalities by name when the mode takes them, e.g.
        ``{"force": impulses}`` for a forward-dynamics mode with ``given = ["action", "force"]``.
        """
        with self._inference():
            modality = self._action_modality()
            actions = torch.as_tensor(actions, dtype=self.dtype, device=self.device)
            given = {modality.name: modality.prepare(actions), **self._given_inputs(inputs)}
            frames, _ = self._generate("forward_dynamics", history_frames, given, num_iter, instruction, generator, steps, False)
            return frames

    def plan(
        self, history_frames: torch.Tensor, num_iter: int = 1, *, instruction: Instruction = None,
        inputs: dict[str, torch.Tensor] | None = None, generator: torch.Generator | None = None, steps: int | None = None,
    ) -> Plan:
        """Policy + planner: ``Plan(actions, frames)``, actions (B, L, action_dim) in environment units and the
        future frames (B, T, 3, image_size, image_size) they lead to, from ``history_frames`` (B, T, 3, H, W);
        ``num_iter`` and ``steps`` as in ``generate_video`` (the actions come with the last pass)."""
        with self._inference():
            given = self._given_inputs(inputs)
            frames, actions = self._generate("joint", history_frames, given, num_iter, instruction, generator, steps, True)
            return Plan(actions, frames)

    def _generate(self, mode_name, history_frames, given, num_iter, instruction, generator, steps, with_actions):
        """MAR generation: reveal the future tokens over ``num_iter`` passes on a cosine schedule.

        Each sample has one random order of the spatial positions; a pass predicts the same positions
        in every frame. Actions (``with_actions``) come from the last pass's latents.
        """
        video = self.modalities[VIDEO]
        if video.head is None:
            raise SpecError("modalities", "this model has no video head (video modality with predict = false).")
        mode = self.mode(mode_name)
        if mode.stream_state(VIDEO) != "masked":
            raise SpecError(f"mode '{mode_name}'", "video generation needs future_video = 'masked'.")
        grid = self.grid
        positions, frames = grid.tokens_per_frame, grid.frames
        if not 1 <= num_iter <= positions:
            raise InputError(f"num_iter must be in 1..{positions} (tokens per frame), got {num_iter}")
        data, size = self._history_data(mode, history_frames, None, generator)
        data.update(given)
        tokens = torch.zeros(size, frames, positions, grid.channels, device=self.device, dtype=self.dtype)
        orders = torch.rand(size, positions, generator=generator, device=self.device).argsort(dim=-1)
        hidden_count, actions = positions, None
        for step in range(num_iter):
            hidden = torch.zeros(size, positions, dtype=torch.bool, device=self.device).scatter_(1, orders[:, :hidden_count], True)
            data[VIDEO] = tokens.reshape(size, grid.length, grid.channels)
            future_mask = hidden[:, None].expand(size, frames, positions).reshape(size, grid.length)
            z = self.joint_latents(mode, data, size, future_mask, instruction, generator)
            last = step == num_iter - 1
            if last and with_actions:
                actions = self._sample_actions(z, generator, steps)
            next_count = 0 if last else max(1, min(hidden_count - 1, math.floor(positions * math.cos(math.pi / 2 * (step + 1) / num_iter))))
            chosen = orders[:, next_count:hidden_count].sort(dim=1).values  # rows in position order, as the original
            picked = chosen.shape[1]
            conditions = z.reshape(size, frames, positions, -1).gather(2, chosen[:, None, :, None].expand(size, frames, picked, z.shape[-1]))
            new = video.head.sample(conditions.reshape(size, frames * picked, -1), self.sampler, generator, steps)
            tokens.scatter_(2, chosen[:, None, :, None].expand(size, frames, picked, grid.channels), new.reshape(size, frames, picked, -1))
            hidden_count = next_count
        return self.decode_latents(self._tokens_to_latents(tokens)), actions
