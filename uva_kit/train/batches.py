"""Deterministic global batches, split into seeded micro-batches, independent of the process layout.

Step ``s`` takes the next ``batch_size`` indices of an epoch permutation fixed by ``(seed, epoch)``.
The global batch is cut into ``world_size * grad_accumulation`` contiguous micro-batches; micro-batch
``m`` goes to rank ``m // grad_accumulation`` and gets its own seed from ``(seed, step, m)``. Sample
loading (augmentation) is seeded from ``(seed, epoch, index)``. So one process with accumulation and
several processes compute the same thing, and a resumed run continues exactly where it stopped.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from typing import Any

import attrs
import numpy as np
import torch

from uva_kit.errors import UvaKitError


def derive_seed(*parts: int) -> int:
    """A well-mixed 63-bit seed from integer parts."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(2, dtype=np.uint64)[0] >> np.uint64(1))


def seed_everything(seed: int) -> None:
    """Seed torch (every backend, also those not initialized yet), numpy and random: the global generators a
    model or a dataset may draw from."""
    torch.manual_seed(seed)
    _seed_host(seed)


def _seed_host(seed: int) -> None:
    np.random.seed(seed % 2**32)
    random.seed(seed)


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run a block with torch (CPU and initialized CUDA devices), numpy and random seeded; restore their
    states afterwards. Called per sample and micro-batch, so it seeds only the generators in use:
    ``torch.manual_seed`` would also queue seeds, with a stack capture each, for backends never
    initialized, which doubles the cost of a call (0.19 ms against 0.095 ms measured)."""
    numpy_state, python_state = np.random.get_state(), random.getstate()
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    with torch.random.fork_rng(devices=devices):
        torch.default_generator.manual_seed(seed)
        if devices:
            torch.cuda.manual_seed_all(seed)
        _seed_host(seed)
        try:
            yield
        finally:
            np.random.set_state(numpy_state)
            random.setstate(python_state)


@attrs.frozen
class MicroBatch:
    step: int
    index: int  # position in the global batch, 0 .. world_size * grad_accumulation - 1
    seed: int
    samples: tuple[tuple[str, int, int], ...]  # (source, dataset index, sample seed)

    @property
    def source(self) -> str:
        """The dataset every sample comes from: "main", or "video" (the action-free video mixed in)."""
        return self.samples[0][0] if self.samples else "main"


@attrs.frozen
class BatchPlan:
    dataset_size: int
    batch_size: int
    seed: int
    world_size: int = 1
    rank: int = 0
    grad_accumulation: int = 1
    video_dataset_size: int = 0
    video_ratio: float = 0.0

    def __attrs_post_init__(self) -> None:
        parts = self.world_size * self.grad_accumulation
        if self.batch_size % parts:
            raise UvaKitError(
                f"training.batch_size={self.batch_size} must be divisible by world_size x grad_accumulation = {parts}."
            )
        if self.dataset_size < self.batch_size:
            raise UvaKitError(
                f"the dataset has {self.dataset_size} training windows, fewer than one batch of {self.batch_size}: "
                "use more data or set training.batch_size lower."
            )
        if self.video_ratio > 0 and self.video_dataset_size < self.micro_batch_size:
            raise UvaKitError(f"the action-free video dataset has {self.video_dataset_size} windows, fewer than one "
                              f"micro-batch of {self.micro_batch_size}: use more video or a smaller training.batch_size.")

    @property
    def micro_batch_size(self) -> int:
        return self.batch_size // (self.world_size * self.grad_accumulation)

    @property
    def steps_per_epoch(self) -> int:
        return self.dataset_size // self.batch_size

    def _permutation(self, epoch: int) -> np.ndarray:
        return np.random.default_rng(derive_seed(self.seed, epoch)).permutation(self.dataset_size)

    def micro_batches(self, step: int) -> list[MicroBatch]:
        """This rank's micro-batches of optimizer step ``step``, in accumulation order."""
        epoch, position = divmod(step, self.steps_per_epoch)
        indices = self._permutation(epoch)[position * self.batch_size:(position + 1) * self.batch_size]
        size = self.micro_batch_size
        batches = []
        for accumulation in range(self.grad_accumulation):
            index = self.rank * self.grad_accumulation + accumulation
            seed = derive_seed(self.seed, step, index)
            chosen = indices[index * size:(index + 1) * size]
            source = "main"
            if self.video_ratio > 0:
                draw = np.random.default_rng(derive_seed(seed, 1))
                if draw.random() < self.video_ratio:
                    source = "video"
                    chosen = draw.choice(self.video_dataset_size, size=size, replace=False)
            samples = tuple((source, int(i), derive_seed(self.seed, epoch, int(i), source == "video")) for i in chosen)
            batches.append(MicroBatch(step, index, seed, samples))
        return batches

    def iterate(self, start_step: int, end_step: int) -> Iterator[MicroBatch]:
        for step in range(start_step, end_step):
            yield from self.micro_batches(step)


class PlanSampler(torch.utils.data.Sampler):
    """A DataLoader batch sampler yielding each micro-batch's ``(source, index, seed)`` items in plan order."""

    def __init__(self, plan: BatchPlan, start_step: int, end_step: int):
        self.plan, self.start_step, self.end_step = plan, start_step, end_step

    def __iter__(self) -> Iterator[list[tuple[str, int, int]]]:
        for micro in self.plan.iterate(self.start_step, self.end_step):
            yield list(micro.samples)

    def __len__(self) -> int:
        return (self.end_step - self.start_step) * self.plan.grad_accumulation


class SeededSamples(torch.utils.data.Dataset):
    """Loads ``(source, index, seed)`` with torch, numpy and random seeded, restoring their state after.

    ``sources`` maps "main" (and "video", the action-free dataset, when mixed in) to datasets.
    """

    def __init__(self, sources: dict[str, Any]):
        self.sources = sources

    def __len__(self) -> int:
        return len(self.sources["main"])

    def __getitem__(self, item: tuple[str, int, int]) -> Any:
        source, index, seed = item
        with seeded(seed):
            return self.sources[source][index]
