"""``uva_kit.Policy``: the env-facing wrapper of a UVA model.

    policy = uva_kit.Policy(model)
    policy.reset()
    action = policy.select_action({"image": frame})   # frame (B, 3, H, W) or (3, H, W) in [0, 1]
    action = policy.select_action({"image": frame, "agent_pos": position})  # a model given proprio

Besides the image, ``obs`` carries one value per step, (B, dim) or (dim,), for each stream modality
the model's policy mode is given (its ``data_key``: ``agent_pos`` for ``proprio``); the policy
stacks them at the history frames as it does the frames.

It keeps the original's observation layout: a window of ``window`` steps (16 with the default
layout) from which frames ``frame_offset + i * frame_stride`` (3, 7, 11, 15) are the history; at an
episode's start the first observation fills the window. It predicts an action chunk, executes the
first ``n_action_steps`` (8) one call at a time, then replans. What the encoder said of each frame
is kept, so each replanning encodes only the frames it has not seen (2 of 4 with the defaults); for a
sampling encoder that is the posterior, and every replanning draws fresh latents from it, as the
original does by encoding all its history frames anew. Actions are in environment units.

``policy.compile()`` switches to the fast path: on a GPU the frame encoding and the backbone +
action head are captured as CUDA graphs at static shapes (bf16 encoder and backbone; an instruction is
encoded outside the graph, once per instruction); on the CPU the action head runs the fused C++
sampling loop.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from uva_kit.encoder.latent_posterior import LatentPosterior
from uva_kit.errors import InputError, MissingKeyError, UvaKitError
from uva_kit.model.uva import UVAModel, check_frames


class Policy:
    """Env-facing wrapper of ``model`` (a UVAModel): ``reset()`` at each episode, then ``select_action(obs)`` per step.

    ``obs`` is ``{"image": frame}`` with frame (B, 3, H, W) or (3, H, W) in [0, 1], plus one entry per key of
    ``model.policy_observations``; ``uva_kit.envs.policy_observation(env_obs)`` builds it from an env's
    observation. Each action chunk is executed ``n_action_steps`` steps (1..``layout.action_chunk``) before
    replanning. ``instruction`` (a string, or B strings) is the task of a model with the language modality;
    ``policy.instruction`` may change between calls (e.g. a new task at each ``reset()``).
    Random draws come from ``generator`` (on the model's device) when given, else from torch's global RNG.
    The module docstring (``help(uva_kit.model.policy)``) details the observation window and ``compile()``.
    """

    def __init__(self, model: UVAModel, *, n_action_steps: int = 8, instruction: str | list[str] | None = None,
                 generator: torch.Generator | None = None):
        layout = model.spec.layout
        if not 1 <= n_action_steps <= layout.action_chunk:
            raise InputError(f"n_action_steps must be in 1..{layout.action_chunk} (the action chunk), got {n_action_steps}")
        self.model = model
        self.n_action_steps = n_action_steps
        self.instruction = instruction
        self.generator = generator
        self._graphed = None
        self.observed = model.policy_observations
        self.window = layout.frame_offset + layout.frame_stride * (layout.history_frames - 1) + 1
        self.history_offsets = [layout.frame_offset + layout.frame_stride * i - (self.window - 1)
                                for i in range(layout.history_frames)]  # relative to now: -12, -8, -4, 0
        self.reset()

    def compile(self, *, bf16: bool = True) -> Policy:
        """Use the fast path from now on (see the module docstring); returns the policy."""
        from uva_kit.sampler.fused import fused_unavailable_reason

        device = self.model.device
        if device.type == "cuda":
            from uva_kit.model.cuda_graphs import GraphedPolicy

            self._graphed = GraphedPolicy(self.model, bf16=bf16)
            return self
        dtype = self.model.dtype
        reason = fused_unavailable_reason(device, dtype)
        if reason is not None:
            fix = ("Convert the model with model.float()" if dtype != torch.float32
                   else "Build it with `pip install --no-build-isolation -e .`")
            raise UvaKitError(f"policy.compile() on {device.type} runs the fused C++ sampler, but {reason}. "
                              f"{fix}, or run the policy uncompiled.")
        self.model.sampler.path = "fused"
        return self

    def reset(self) -> None:
        """Start a new episode: forget the observations, cached latents and queued actions."""
        self.step = 0
        self._frames: dict[int, torch.Tensor] = {}
        self._posteriors: dict[int, LatentPosterior] = {}  # per step, (B, 1, C, h, w)
        self._observations: dict[int, dict[str, torch.Tensor]] = {}
        self._queue: list[torch.Tensor] = []
        self._batch: int | None = None

    def select_action(self, obs: dict) -> torch.Tensor:
        """The next action, (B, action_dim), or (action_dim,) for an unbatched (3, H, W) image."""
        if not isinstance(obs, Mapping):
            raise TypeError(f"obs must be a dict such as {{'image': frame}}, got a {type(obs).__name__}; an env's "
                            "observation converts with uva_kit.envs.policy_observation(obs)")
        if "image" not in obs:
            raise MissingKeyError(f"obs must have an 'image' (B, 3, H, W) or (3, H, W) in [0, 1]; got keys {sorted(obs)}")
        if self.instruction is None and self.model.prefix_modality is not None:
            raise InputError("this model reads an instruction (its spec has a language modality): give "
                             "Policy(model, instruction=...) or set policy.instruction (a string, or one per environment)")
        image = torch.as_tensor(obs["image"])
        if image.dim() not in (3, 4) or image.shape[-3] != 3:
            channels_last = image.dim() in (3, 4) and image.shape[-1] == 3
            raise InputError(f"obs['image'] must be (B, 3, H, W) or (3, H, W), got {tuple(image.shape)}"
                             + (": channels last? move them first (e.g. .permute(2, 0, 1))" if channels_last else ""))
        check_frames(image, "obs['image']", values=False)  # the values when replanning: once per encoding
        unbatched = image.dim() == 3
        if unbatched:
            image = image[None]
        if self._batch is None:
            self._batch = image.shape[0]
        elif image.shape[0] != self._batch:
            raise InputError(f"batch size changed from {self._batch} to {image.shape[0]} within an episode; call reset()")
        self._frames[self.step] = image.to(self.model.device, self.model.dtype)
        self._observations[self.step] = self._observed_values(obs, image.shape[0], unbatched)
        if not self._queue:
            self._replan()
        action = self._queue.pop(0)
        self.step += 1
        return action[0] if unbatched else action

    def _observed_values(self, obs: dict, batch: int, unbatched: bool) -> dict[str, torch.Tensor]:
        values = {}
        for name, key in self.observed.items():
            if key not in obs:
                raise MissingKeyError(f"this model's policy is given '{name}': obs needs '{key}', one value per step "
                               f"({'(dim,)' if unbatched else '(B, dim)'}); got keys {sorted(obs)}")
            value = torch.as_tensor(obs[key], dtype=self.model.dtype, device=self.model.device)
            value = value[None] if unbatched else value
            dim = getattr(self.model.modalities[name], "dim", None)
            if not (value.dim() == 2 and value.shape[0] == batch and dim in (None, value.shape[1])):
                width = "dim" if dim is None else dim
                raise InputError(f"obs['{key}'] must be {f'({width},)' if unbatched else f'({batch}, {width})'} for "
                                 f"this model's '{name}', got {tuple(torch.as_tensor(obs[key]).shape)}")
            values[name] = value
        return values

    def _history_steps(self) -> list[int]:
        return [max(0, self.step + offset) for offset in self.history_offsets]

    def _replan(self) -> None:
        steps = self._history_steps()
        missing = sorted(set(steps) - set(self._posteriors))
        if missing:
            frames = torch.stack([self._frames[s] for s in missing], dim=1)
            check_frames(frames, "obs['image']")
            encode = self._graphed.encode if self._graphed is not None else self.model.encode_posterior
            posterior = encode(frames)
            for i, s in enumerate(missing):
                self._posteriors[s] = posterior.select((slice(None), slice(i, i + 1)))
        history = LatentPosterior.cat([self._posteriors[s] for s in steps], dim=1).draw(self.generator)
        inputs = {name: torch.stack([self._observations[s][name] for s in steps], dim=1) for name in self.observed}
        oldest_needed = self.step + self.n_action_steps + self.history_offsets[0]  # by the next replanning
        for store in (self._posteriors, self._frames, self._observations):
            for old in [s for s in store if s < oldest_needed]:
                del store[old]
        if self._graphed is not None:
            chunk = self._graphed.predict(history, self.generator, inputs, self.instruction)
        else:
            chunk = self.model.predict_actions(history_latents=history, instruction=self.instruction, inputs=inputs,
                                               generator=self.generator)
        self._queue = list(chunk[:, : self.n_action_steps].unbind(dim=1))
