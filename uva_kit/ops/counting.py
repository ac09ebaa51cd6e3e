"""Counting the ATen ops a call issues (a proxy for GPU kernel launches), with ``TorchDispatchMode``."""

from __future__ import annotations

from collections import Counter

from torch.utils._python_dispatch import TorchDispatchMode

# Ops that move data from the host into a tensor or read a tensor back to the host (on a GPU: a
# host-to-device copy or a sync). A loop that issues none of them can be captured in a CUDA graph.
HOST_TRANSFER_OPS = ("_to_copy", "lift_fresh", "lift_fresh_copy", "_local_scalar_dense", "scalar_tensor")


class OpCounter(TorchDispatchMode):
    """``with OpCounter() as ops: fn()`` then ``ops.counts`` maps op names ("addmm", ...) to calls."""

    def __init__(self):
        super().__init__()
        self.counts: Counter[str] = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.counts[func.__name__.split(".")[0]] += 1
        return func(*args, **(kwargs or {}))

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def host_transfers(self) -> int:
        return sum(self.counts[name] for name in HOST_TRANSFER_OPS)


def per_step_ops(run, steps: tuple[int, int]) -> tuple[float, float]:
    """(ATen ops per step, host transfers per step) of ``run(steps)``, from two step counts' difference.

    Each step count runs once uncounted first, so per-model caches are filled as in steady use.
    """
    counters = []
    for count in steps:
        run(count)
        with OpCounter() as counter:
            run(count)
        counters.append(counter)
    span = steps[1] - steps[0]
    return ((counters[1].total - counters[0].total) / span,
            (counters[1].host_transfers() - counters[0].host_transfers()) / span)
