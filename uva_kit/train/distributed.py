"""torchrun support: one process per device, NCCL on GPUs and gloo on CPU; rank 0 logs and saves.

``Replicated`` is the default ``training.parallelism = "ddp"`` (and the only choice on one
process): every rank holds the whole model and DistributedDataParallel averages the gradients.
``uva_kit.train.sharding.Sharded`` is the FSDP alternative with the same interface.
"""

from __future__ import annotations

import contextlib
import gc
import os

import attrs
import torch
import torch.distributed as dist

from uva_kit.devices import resolve_device


@attrs.frozen
class Distributed:
    rank: int = 0
    world_size: int = 1
    device: str = "cpu"

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    def mean(self, loss: torch.Tensor, *values: float) -> tuple:
        """The means over all ranks of ``loss`` (a float64 0-d tensor on the device, returned as one) and of
        floats, in one collective; on one process the values themselves, the loss not read (no device sync)."""
        if not self.enabled:
            return (loss, *values)
        tensor = torch.cat([loss.reshape(1), torch.tensor(values, dtype=torch.float64, device=self.device)])
        dist.all_reduce(tensor)
        tensor /= self.world_size
        return (tensor[0], *tensor[1:].tolist())

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()


class Replicated:
    """The whole model on every rank; ``module`` (DDP-wrapped under torchrun) is what the loop calls."""

    def __init__(self, state: Distributed, model: torch.nn.Module, ema):
        self.state = state
        self.model = model
        self.ema = ema
        self.module = model
        if state.enabled:
            device_ids = [torch.device(state.device).index] if state.device.startswith("cuda") else None
            # a rank may skip a head in a step (each micro-batch draws its own mode)
            self.module = torch.nn.parallel.DistributedDataParallel(model, device_ids=device_ids,
                                                                    find_unused_parameters=True)

    def micro_batch(self, last: bool) -> contextlib.AbstractContextManager:
        """All-reduce the gradients only after the last micro-batch of a step."""
        return contextlib.nullcontext() if last or not self.state.enabled else self.module.no_sync()

    def drop_unused_gradients(self) -> None:
        """Nothing to do: DDP leaves the gradient of a parameter no rank used at None."""

    def full_model_state(self) -> dict[str, torch.Tensor]:
        return self.model.state_dict()

    def full_ema_model(self) -> torch.nn.Module:
        return self.ema.model


def setup(device: str | None = None) -> Distributed:
    """Join the process group that torchrun describes in the environment (a no-op without torchrun)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    device = resolve_device(device)
    if world_size <= 1:
        return Distributed(device=device)
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device.startswith("cuda"):
        torch.cuda.set_device(local_rank)
        device = f"cuda:{local_rank}"
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    return Distributed(rank, world_size, device)


def teardown(state: Distributed) -> None:
    """Leave the process group, after collecting the garbage of the run: sharded (FSDP) modules form reference
    cycles that hold the group and its gloo threads, and they are best freed now rather than while the
    interpreter shuts down (where the order of destruction is arbitrary)."""
    if state.enabled and dist.is_initialized():
        gc.collect()
        dist.destroy_process_group()
