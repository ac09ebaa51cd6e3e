"""``uva_kit.Policy``: the env-facing wrapper of a UVA model.

    policy = uva_kit.Policy(model)
    policy.reset()
    action = policy.select_action({"image": frame})   # frame (B, 3, H, W) or (3, H, W) in [0, 1]
    action = policy.select_action({"image": frame, "agent_pos": position})  # a model given proprio
    policy.reset(rows=[2])                             # row 2's env started a new episode; the others go on

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

Each row of the batch is its own episode: ``reset(rows=...)`` starts new episodes in some rows (a vector
env's autoreset, one of B robots) and leaves the others' histories and queued actions as they were. A
row replans on its own schedule (its episode's steps 0, 8, 16, ...), as a policy of its own would; the
rows due at the same call are planned in one batched model call, so a batch reset as a whole replans
together, every ``n_action_steps`` calls. Rows out of phase take more, smaller model calls.

The sampling noise (a sampling encoder's posterior latents, the action head's noise) comes from ``generator``.
One generator draws for the rows planned together, so a row's noise depends on the batch: after a row reset
the other rows draw different noise at their next replanning than they would have. A list of B generators,
one per row, makes each row's noise its own: row i draws from ``generator[i]`` only, so a row acts the same
alone or in any batch (up to float differences of batched matmuls), and whatever the other rows do. Reseed a
row's generator when its episode starts (``policy.generator[i].manual_seed(s)``), or assign a new list.

``policy.compile()`` switches this policy to the fast path: on a GPU the frame encoding and the backbone +
action head are captured as CUDA graphs at static shapes (bf16 encoder and backbone; an instruction is
encoded outside the graph, once per instruction; one capture per number of rows planned together); on the
CPU its action head runs the fused C++ sampling loop. The model itself is unchanged: its own
``predict_actions`` calls keep ``model.sampler.path``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from uva_kit.encoder.latent_posterior import LatentPosterior
from uva_kit.errors import InputError, MissingKeyError, UvaKitError
from uva_kit.modality.language import instruction_list
from uva_kit.model.uva import UVAModel, check_frames


class Policy:
    """Env-facing wrapper of ``model`` (a UVAModel): ``reset()`` at each episode, then ``select_action(obs)`` per step.

    ``obs`` is ``{"image": frame}`` with frame (B, 3, H, W) or (3, H, W) in [0, 1], plus one entry per key of
    ``model.policy_observations``; ``uva_kit.envs.policy_observation(env_obs)`` builds it from an env's
    observation. Each action chunk is executed ``n_action_steps`` steps (1..``layout.action_chunk``) before
    replanning. ``instruction`` (a string, or B strings) is the task of a model with the language modality;
    ``policy.instruction`` may change between calls (e.g. a new task at each ``reset()``).
    Random draws come from ``generator`` (on the model's device) when given, else from torch's global RNG;
    a list of B generators gives each row of the batch its own.
    The module docstring (``help(uva_kit.model.policy)``) details the observation window, per-row resets
    and ``compile()``.
    """

    def __init__(self, model: UVAModel, *, n_action_steps: int = 8, instruction: str | list[str] | None = None,
                 generator: torch.Generator | Sequence[torch.Generator] | None = None):
        layout = model.spec.layout
        if not 1 <= n_action_steps <= layout.action_chunk:
            raise InputError(f"n_action_steps must be in 1..{layout.action_chunk} (the action chunk), got {n_action_steps}")
        self.model = model
        self.n_action_steps = n_action_steps
        self.instruction = instruction
        self.generator = generator
        self._graphed = None
        self._sampling_path: str | None = None  # the sampler path of this policy's predictions; None: the model's
        self.observed = model.policy_observations
        self.window = layout.frame_offset + layout.frame_stride * (layout.history_frames - 1) + 1
        self.history_offsets = [layout.frame_offset + layout.frame_stride * i - (self.window - 1)
                                for i in range(layout.history_frames)]  # relative to now: -12, -8, -4, 0
        self.reset()

    @property
    def generator(self) -> torch.Generator | list[torch.Generator] | None:
        """Where the random draws come from: one generator, one per row (a list), or None (torch's global RNG)."""
        return self._generator

    @generator.setter
    def generator(self, generator: torch.Generator | Sequence[torch.Generator] | None) -> None:
        if generator is None or isinstance(generator, torch.Generator):
            self._generator = generator
            return
        generators = list(generator) if isinstance(generator, Sequence) else None
        if not generators or not all(isinstance(g, torch.Generator) for g in generators):
            raise InputError(f"generator must be a torch.Generator, a list of them (one per row of the batch) or None, "
                             f"got {generator!r}")
        if len({id(g) for g in generators}) != len(generators):
            raise InputError("generator lists the same torch.Generator for several rows: give each row its own "
                             "(or pass one generator for the whole batch)")
        device = self.model.device
        elsewhere = [i for i, g in enumerate(generators) if g.device != device]
        if elsewhere:
            raise InputError(f"the generators of rows {elsewhere} are on {generators[elsewhere[0]].device}, the model "
                             f"on {device}: make them with torch.Generator(device={str(device)!r})")
        self._generator = generators

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
        self._sampling_path = "fused"
        return self

    def reset(self, rows=None) -> None:
        """Start new episodes: forget the observations, cached latents and queued actions of every row, or of
        ``rows`` only (indices into the batch, or a boolean mask of length B); the other rows go on unchanged.
        A row reset takes effect at the next ``select_action``, whose observation starts the row's episode."""
        if rows is None:
            self._rows: list[RowEpisode] | None = None  # one per row of the batch, from the first observation
            return
        if self._rows is None:
            return  # no observation since the full reset: every row starts afresh anyway
        for row in self._row_indices(rows):
            self._rows[row] = RowEpisode()

    def _row_indices(self, rows) -> list[int]:
        batch = len(self._rows)
        indices = torch.as_tensor(rows)
        if indices.numel() == 0:
            return []
        if indices.dtype == torch.bool:
            if indices.shape != (batch,):
                raise InputError(f"a boolean rows mask must have one entry per row of the batch, ({batch},); got "
                                 f"{tuple(indices.shape)}")
            return indices.nonzero().flatten().tolist()
        if indices.is_floating_point() or indices.is_complex() or indices.dim() > 1:
            raise InputError(f"rows must be row indices (ints) or a boolean mask of length {batch}, got {rows!r}")
        outside = [int(i) for i in indices.flatten() if not 0 <= i < batch]
        if outside:
            raise InputError(f"rows must be in 0..{batch - 1} (the batch has {batch} rows), got {outside}; "
                             "reset() without rows resets them all")
        return indices.flatten().tolist()

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
        if self._rows is None:
            self._rows = [RowEpisode() for _ in range(image.shape[0])]
        elif image.shape[0] != len(self._rows):
            raise InputError(f"batch size changed from {len(self._rows)} to {image.shape[0]} within an episode; "
                             "call reset()")
        if isinstance(self.generator, list) and len(self.generator) != len(self._rows):
            raise InputError(f"the policy has {len(self.generator)} generators, one per row, but the batch has "
                             f"{len(self._rows)} rows: give it {len(self._rows)} (policy.generator = [...]), or one "
                             "generator for the whole batch")
        frames = image.to(self.model.device, self.model.dtype)
        values = self._observed_values(obs, image.shape[0], unbatched)
        for i, row in enumerate(self._rows):
            row.frames[row.step] = frames[i]
            row.observations[row.step] = {name: value[i] for name, value in values.items()}
        due = [i for i, row in enumerate(self._rows) if row.taken == len(row.actions)]
        if due:
            self._replan(due)
        action = torch.stack([row.next_action() for row in self._rows])
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

    def _replan(self, due: list[int]) -> None:
        """Plan a new chunk for the rows ``due``, in one model call."""
        rows = [self._rows[i] for i in due]
        steps = [row.history_steps(self.history_offsets) for row in rows]
        self._encode_missing(rows, steps)
        history, noise = self._draw(due, [LatentPosterior.cat([row.posteriors[s] for s in row_steps], dim=1)
                                          for row, row_steps in zip(rows, steps)])
        inputs = {name: torch.stack([torch.stack([row.observations[s][name] for s in row_steps])
                                     for row, row_steps in zip(rows, steps)]) for name in self.observed}
        for row in rows:
            row.forget_before(row.step + self.n_action_steps + self.history_offsets[0])  # needed by its next plan
        instruction = self._instruction_of(due)
        if self._graphed is not None:
            chunk = self._graphed.predict(history, noise, inputs, instruction)
        else:
            with self.model.sampler.path_set_to(self._sampling_path):
                chunk = self.model.predict_actions(history_latents=history, instruction=instruction, inputs=inputs,
                                                   action_noise=noise)
        for row, actions in zip(rows, chunk[:, : self.n_action_steps]):
            row.actions, row.taken = actions, 0

    def _draw(self, due: list[int], posteriors: list[LatentPosterior]) -> tuple[torch.Tensor, torch.Tensor]:
        """The random draws of a plan for the rows ``due``, in the order the model would draw them: history latents
        from the rows' ``posteriors`` (1, T, C, h, w), then the action head's noise (S + 1, rows * L, action_dim).
        One generator draws them for the rows together; a generator per row draws that row's."""
        if not isinstance(self.generator, list):
            history = LatentPosterior.cat(posteriors, dim=0).draw(self.generator)
            return history, self.model.action_noise(len(due), self.generator)
        generators = [self.generator[i] for i in due]
        history = torch.cat([posterior.draw(g) for posterior, g in zip(posteriors, generators)])
        return history, torch.cat([self.model.action_noise(1, g) for g in generators], dim=1)

    def _encode_missing(self, rows: list[RowEpisode], steps: list[list[int]]) -> None:
        """Encode the history frames the rows have not encoded yet: one call per set of missing steps (rows in
        phase share it)."""
        groups: dict[tuple[int, ...], list[RowEpisode]] = {}
        for row, row_steps in zip(rows, steps):
            missing = tuple(sorted(set(row_steps) - set(row.posteriors)))
            if missing:
                groups.setdefault(missing, []).append(row)
        for missing, group in groups.items():
            frames = torch.stack([torch.stack([row.frames[s] for s in missing]) for row in group])
            check_frames(frames, "obs['image']")
            encode = self._graphed.encode if self._graphed is not None else self.model.encode_posterior
            posterior = encode(frames)
            for i, row in enumerate(group):
                for j, s in enumerate(missing):
                    row.posteriors[s] = posterior.select((slice(i, i + 1), slice(j, j + 1)))

    def _instruction_of(self, due: list[int]):
        """The instruction of the rows ``due``: a string (or None) as given, else their entries of the list."""
        if self.instruction is None or isinstance(self.instruction, str):
            return self.instruction
        instructions = instruction_list(self.instruction, len(self._rows))
        return [instructions[i] for i in due]


class RowEpisode:
    """One row's episode so far: its observations, encodings and action chunk, by the episode's step."""

    def __init__(self):
        self.step = 0  # of the observation being acted on; the episode's first is step 0
        self.frames: dict[int, torch.Tensor] = {}  # (3, H, W)
        self.observations: dict[int, dict[str, torch.Tensor]] = {}  # name -> (dim,)
        self.posteriors: dict[int, LatentPosterior] = {}  # (1, 1, C, h, w)
        self.actions = torch.empty(0)  # the planned actions to execute, (n_action_steps, action_dim)
        self.taken = 0  # how many of them were executed

    def history_steps(self, offsets: list[int]) -> list[int]:
        """The steps of the history frames now: ``offsets`` back, the first observation standing in before it."""
        return [max(0, self.step + offset) for offset in offsets]

    def forget_before(self, step: int) -> None:
        for store in (self.posteriors, self.frames, self.observations):
            for old in [s for s in store if s < step]:
                del store[old]

    def next_action(self) -> torch.Tensor:
        action = self.actions[self.taken]
        self.taken += 1
        self.step += 1
        return action
