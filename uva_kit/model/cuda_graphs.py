"""CUDA-graph capture of the policy's calls at static shapes (``Policy.compile()`` on a GPU).

``CapturedCall(fn)`` captures ``fn(*tensors)`` once per input shapes/dtypes (after warm-up runs on a
side stream) and afterwards copies new inputs into the captured buffers and replays the graph: one
launch for the whole call, no Python or dispatcher cost per kernel. ``GraphedPolicy`` builds the two
calls the policy makes: frame encoding, and backbone + action head (bf16 autocast for the encoder and
backbone where ``bf16``; the action head's sampling loop stays in fp32, fused when the CUDA extension
is built). The encode graph gives what the encoder says of the frames (a sampling encoder's posterior
moments, else latents); the policy draws latents from them outside, as it does eagerly. The action
head's noise is drawn outside the graph by the policy (from its generator, or per row from each row's) and
passed in, so replays sample exactly as the eager model would from that noise. An instruction is encoded outside the graph too, once
while it stays the same.
"""

from __future__ import annotations

import contextlib

import torch

from uva_kit.encoder.latent_posterior import LatentPosterior
from uva_kit.errors import InputError


class CapturedCall:
    def __init__(self, fn, warmup: int = 2):
        self.fn = fn
        self.warmup = warmup
        self._graphs: dict[tuple, tuple[torch.cuda.CUDAGraph, list[torch.Tensor], torch.Tensor]] = {}

    def __call__(self, *inputs: torch.Tensor) -> torch.Tensor:
        key = tuple((tuple(t.shape), t.dtype, t.device) for t in inputs)
        if key not in self._graphs:
            self._graphs[key] = self._capture(inputs)
        graph, static_inputs, static_output = self._graphs[key]
        for buffer, value in zip(static_inputs, inputs):
            buffer.copy_(value)
        graph.replay()
        return static_output.clone()

    def _capture(self, inputs):
        static_inputs = [t.clone() for t in inputs]
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(self.warmup):  # fills caches (time tables, device coefficient tables) outside the graph
                self.fn(*static_inputs)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            static_output = self.fn(*static_inputs)
        return graph, static_inputs, static_output


class GraphedPolicy:
    """The policy's encode and predict calls of ``model`` as replayed CUDA graphs."""

    def __init__(self, model, bf16: bool = True):
        self.model = model
        self.bf16 = bf16
        self._input_names = sorted(model.policy_observations)  # fixed per model: the graph's extra inputs
        self._samples_posterior = getattr(model.encoder, "sample_posterior", False)
        self._instructed = model.prefix_modality is not None
        self._instruction_tokens: tuple[object, torch.Tensor | None] = (None, None)  # (instruction and batch, tokens)
        self._encode = CapturedCall(self._encode_frames)
        self.actions = CapturedCall(self._predict)

    def _autocast(self):
        return torch.autocast("cuda", dtype=torch.bfloat16) if self.bf16 else contextlib.nullcontext()

    def _encode_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """The posterior moments stacked (2, B, T, C, h, w) for a sampling encoder, else the latents: one
        output tensor, as a captured call returns."""
        with self._autocast():
            posterior = self.model.encode_posterior(frames)
        if posterior.logvar is None:
            return posterior.mean.float()
        return torch.stack([posterior.mean, posterior.logvar]).float()

    def encode(self, frames: torch.Tensor) -> LatentPosterior:
        """``model.encode_posterior(frames)`` for frames (B, T, 3, H, W), replayed."""
        output = self._encode(frames)
        return LatentPosterior(*output) if self._samples_posterior else LatentPosterior(output)

    def _predict(self, history_latents: torch.Tensor, noise: torch.Tensor, *values: torch.Tensor) -> torch.Tensor:
        instruction, values = (values[0], values[1:]) if self._instructed else (None, values)
        inputs = dict(zip(self._input_names, values))
        with self._autocast():
            z = self.model.policy_latents(history_latents=history_latents, inputs=inputs, instruction=instruction)
        return self.model.sample_actions(z.float(), noise=noise)

    def graph_inputs(self, history_latents: torch.Tensor, inputs: dict[str, torch.Tensor] | None = None,
                     instruction=None) -> list[torch.Tensor]:
        """The predict graph's inputs besides latents and noise: an instructed model's instruction tokens
        (encoded here, outside the graph; kept while the instruction stays the same), then the policy mode's
        other inputs by name."""
        inputs = inputs or {}
        if sorted(inputs) != self._input_names:
            raise InputError(f"the policy mode takes inputs {self._input_names}, got {sorted(inputs)}")
        device, batch = history_latents.device, history_latents.shape[0]
        values = [inputs[name].to(device, torch.float32) for name in self._input_names]
        if not self._instructed:
            return values
        if instruction is None:
            raise InputError("this model reads an instruction: pass instruction=...")
        key = (instruction if isinstance(instruction, str) else tuple(instruction), batch)
        if self._instruction_tokens[0] != key:
            self._instruction_tokens = (key, self.model.instruction_tokens(instruction, batch))
        return [self._instruction_tokens[1], *values]

    def predict(self, history_latents: torch.Tensor, noise: torch.Tensor, inputs: dict[str, torch.Tensor] | None = None,
                instruction=None) -> torch.Tensor:
        """Actions from cached history latents, the action head's noise (``model.action_noise``), the policy
        mode's other inputs (e.g. ``{"proprio": ...}``) and, for an instructed model, the instruction."""
        values = self.graph_inputs(history_latents, inputs, instruction)
        return self.actions(history_latents, noise, *values)
