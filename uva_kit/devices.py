"""The ``--device`` of training, evaluation and benchmarks: its default, and a clear error for one that cannot run."""

from __future__ import annotations

from uva_kit.errors import UvaKitError


def available_devices() -> list[str]:
    """The devices uva_kit can run on here: ``cpu``, and ``cuda``, ``cuda:0``, ... when a GPU is visible."""
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return ["cpu"] + (["cuda"] + [f"cuda:{index}" for index in range(count)] if count else [])


def resolve_device(device: str | None = None) -> str:
    """``device`` checked to be usable here (None: ``cuda`` when a GPU is visible, else ``cpu``).

    Anything else than ``cpu``, ``cuda`` or ``cuda:N`` of a visible GPU is a ``UvaKitError`` that
    says why and lists the available devices.
    """
    import torch

    if device is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    available = f"available here: {', '.join(available_devices())}"
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError):
        parsed = None
    if parsed is None or parsed.type not in ("cpu", "cuda"):
        raise UvaKitError(f"device '{device}' is not one uva_kit runs on; use cpu or cuda[:N] ({available}).")
    if parsed.type == "cuda":
        if torch.version.cuda is None and torch.version.hip is None:
            raise UvaKitError(f"device '{device}': CUDA is not available in this torch build "
                              f"(torch {torch.__version__}, torch.version.cuda is None); use --device cpu.")
        if not torch.cuda.is_available():
            raise UvaKitError(f"device '{device}': no CUDA GPU is visible (torch.cuda.is_available() is False; "
                              "check the driver and CUDA_VISIBLE_DEVICES); use --device cpu.")
        if parsed.index is not None and parsed.index >= torch.cuda.device_count():
            raise UvaKitError(f"device '{device}' does not exist ({available}).")
    return device
