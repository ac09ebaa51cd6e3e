"""``training.parallelism = "fsdp"``: the model, its gradients, optimizer state and EMA sharded over the ranks.

FSDP2 (``torch.distributed.fsdp.fully_shard``) turns each trainable parameter into a DTensor that
holds 1/world_size of it on each rank; the blocks are all-gathered just before they run and freed
after. The units are the backbone's blocks (every entry of a ``ModuleList`` directly under the
backbone) and then the whole model for everything else (stream embeddings, heads, norms).
The heads are not units of their own: each micro-batch draws its own mode, so one rank may use a
head that another skips, and a unit skipped on one rank would leave its collective unmatched; in
the root unit an unused head reduces zero gradients instead (like DDP's ``find_unused_parameters``),
and a parameter no rank used then loses that zero gradient, so AdamW skips it as it does under DDP.
Frozen parameters (the encoder) stay whole on every rank.

Checkpoints keep the DDP format: states are gathered to full tensors (every rank must take part)
and only rank 0 keeps and writes them; on resume every rank reads the full states and keeps its shard.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator

import torch
from torch import nn

from uva_kit.errors import UvaKitError
from uva_kit.train.distributed import Distributed
from uva_kit.train.ema import EMA


def is_sharded(value) -> bool:
    """Whether ``value`` is a DTensor (a shard of a tensor spread over the ranks)."""
    if not torch.distributed.is_available():
        return False
    from torch.distributed.tensor import DTensor

    return isinstance(value, DTensor)


def full_tensor(value, keep: bool):
    """``value`` whole on the CPU where ``keep`` (a collective when it is a DTensor), else None."""
    if is_sharded(value):
        value = value.full_tensor()
    elif not isinstance(value, torch.Tensor):
        return value if keep else None
    return value.detach().cpu().contiguous() if keep else None


def full_state(module: nn.Module, keep: bool) -> dict[str, torch.Tensor]:
    """``module.state_dict()`` with every tensor whole on the CPU; empty where not ``keep``."""
    state = {name: full_tensor(value, keep) for name, value in module.state_dict().items()}
    return state if keep else {}


def full_optimizer_state(optimizer: torch.optim.Optimizer, keep: bool) -> dict:
    """``optimizer.state_dict()`` with every tensor whole on the CPU; empty where not ``keep``."""
    state = optimizer.state_dict()
    tensors = {index: {key: full_tensor(value, keep) for key, value in values.items()}
               for index, values in state["state"].items()}
    return {"state": tensors, "param_groups": state["param_groups"]} if keep else {}


def load_optimizer_state(optimizer: torch.optim.Optimizer, state: dict) -> None:
    """Load a whole optimizer state (as ``full_optimizer_state`` gives it), keeping each rank's shard."""
    parameters = [p for group in optimizer.param_groups for p in group["params"]]

    def local(value, parameter):
        if is_sharded(parameter) and isinstance(value, torch.Tensor) and value.shape == parameter.shape:
            from torch.distributed.tensor import distribute_tensor

            return distribute_tensor(value.to(parameter.device), parameter.device_mesh, parameter.placements,
                                     src_data_rank=None)  # every rank has the whole value: no communication
        return value

    sharded = {index: {key: local(value, parameters[int(index)]) for key, value in values.items()}
               for index, values in state["state"].items()}
    optimizer.load_state_dict({"state": sharded, "param_groups": state["param_groups"]})


def _fully_shard():
    try:
        from torch.distributed.fsdp import fully_shard
    except ImportError:
        raise UvaKitError(f"training.parallelism='fsdp' needs PyTorch >= 2.6 (FSDP2's fully_shard); this is "
                          f"torch {torch.__version__}. Use training.parallelism='ddp' or upgrade torch.") from None
    return fully_shard


def shard_units(model: nn.Module) -> list[nn.Module]:
    """The modules sharded as units of their own before the whole model: the backbone's blocks."""
    backbone = getattr(model, "backbone", None)
    if backbone is None:
        return []
    return [block for child in backbone.children() if isinstance(child, nn.ModuleList) for block in child]


def shard(model: nn.Module, mesh, whole: set[str]) -> None:
    """``fully_shard`` the blocks, then the model; the parameters named in ``whole`` are left unsharded."""
    fully_shard = _fully_shard()
    ignored = {parameter for name, parameter in model.named_parameters() if name in whole}
    for unit in shard_units(model):
        fully_shard(unit, mesh=mesh, ignored_params=ignored)
    fully_shard(model, mesh=mesh, ignored_params=ignored)


class Sharded:
    """FSDP2 training: ``module`` is what the loop calls; EMA averages the local shards.

    Validation, evaluation and ``pretrained_model/`` need the whole EMA model: rank 0 keeps one
    unsharded copy and refreshes it from the shards whenever it is needed (``full_ema_model``).
    """

    def __init__(self, state: Distributed, model: nn.Module, ema: EMA):
        from torch.distributed.device_mesh import init_device_mesh

        if not any(p.requires_grad for p in model.parameters()):
            raise UvaKitError("training.parallelism='fsdp': the model has no trainable parameters to shard.")
        self.state = state
        self.model = model
        self.ema = ema
        self.ema_copy = copy.deepcopy(ema.model) if state.is_main else None
        mesh = init_device_mesh(torch.device(state.device).type, (state.world_size,))
        frozen = {name for name, parameter in model.named_parameters() if not parameter.requires_grad}
        shard(model, mesh, frozen)
        shard(ema.model, mesh, frozen)
        model.set_reduce_scatter_unused_params(True)  # ranks may train different heads in one step: see above
        self.module = model
        self.received: set[str] = set()
        self._watch_gradients()

    @contextlib.contextmanager
    def micro_batch(self, last: bool) -> Iterator[None]:
        """Reduce-scatter the gradients only after the last micro-batch of a step."""
        self.model.set_requires_gradient_sync(last)
        yield

    def _watch_gradients(self) -> None:
        """Note the name of every parameter that receives a gradient on this rank (hooks on the gathered tensors).

        FSDP gathers each parameter into the same unsharded tensor at every step, so hooks put on
        it once (while ``unshard()`` has it in place) see every gradient computed on this rank. The hooks hold
        the set of names, not ``self``: the garbage collector cannot see a tensor's hooks, so through ``self``
        they would keep the whole sharded model, and with it the process group, alive until the process exits.
        """
        units = [*shard_units(self.model), self.model]
        for unit in units:
            unit.unshard()
        for name, parameter in self.model.named_parameters():
            if parameter.requires_grad:
                parameter.register_post_accumulate_grad_hook(lambda _, name=name, received=self.received: received.add(name))
        for unit in units:
            unit.reshard()

    @torch.no_grad()
    def drop_unused_gradients(self) -> None:
        """Give the parameters no rank used this step no gradient, so AdamW skips them as under DDP.

        FSDP reduce-scatters zeros for a parameter a rank did not use (``_watch_gradients`` notes
        which ones each rank did use).
        """
        trainable = [(name, p) for name, p in self.model.named_parameters() if p.requires_grad]
        used = torch.tensor([name in self.received for name, _ in trainable], dtype=torch.int32,
                            device=self.state.device)
        torch.distributed.all_reduce(used, op=torch.distributed.ReduceOp.MAX)
        if not used.any():  # the backbone runs in every step: its gradients must have been seen
            raise UvaKitError(f"training.parallelism='fsdp': no gradient reached the watched parameters; torch "
                              f"{torch.__version__} gathers FSDP parameters differently. Use training.parallelism='ddp'.")
        for (_, parameter), was_used in zip(trainable, used.tolist()):
            if not was_used:
                parameter.grad = None
        self.received.clear()

    def full_model_state(self) -> dict[str, torch.Tensor]:
        """The whole training weights on rank 0 (a collective)."""
        return full_state(self.model, self.state.is_main)

    def full_ema_model(self) -> nn.Module | None:
        """The whole EMA model on rank 0, None elsewhere (a collective)."""
        weights = full_state(self.ema.model, self.state.is_main)
        if self.ema_copy is not None:
            self.ema_copy.load_state_dict(weights)
        return self.ema_copy
