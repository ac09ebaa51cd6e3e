"""Show versions, fused ops, attention backends and plugins.

Prints the uva_kit, Python and torch versions, whether the fused-op C++ extension is built and which CPU
kernels it runs, which attention backends work here, and the registered components of each slot.
"""

from __future__ import annotations

import argparse
import platform


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    import torch

    from uva_kit import __version__
    from uva_kit.ops import extension_status
    from uva_kit.plugins import autoload_enabled, reports
    from uva_kit.registry import default_registry

    registry = default_registry()
    status = extension_status()
    print(f"uva_kit      {__version__}")
    print(f"python       {platform.python_version()} ({platform.machine()})")
    print(f"torch        {torch.__version__} (CUDA {torch.version.cuda or 'none'}, GPU available: {torch.cuda.is_available()})")
    if status.loaded:
        print(f"fused ops    C++ extension ({', '.join(status.ops) or 'no ops'}) - {status.detail}")
        print(f"cpu kernels  {_cpu_kernels_line()}")
    else:
        print(f"fused ops    PyTorch reference - {status.detail}")
    print("attention    " + ", ".join(_attention_line(registry, name) for name in registry.list("attention")))
    loaded = reports()
    broken = [r for r in loaded if not r.ok]
    print(
        f"plugins      {len(loaded) - len(broken)} loaded, {len(broken)} failed"
        + ("" if autoload_enabled() else " (autoload disabled)")
        + ("  -> see `uva-kit plugins`" if broken else "")
    )
    for slot_name in ("encoder", "backbone", "modality", "head", "sampler", "masking", "mode", "text_encoder"):
        names = registry.list(slot_name)
        print(f"  {slot_name:<12} {', '.join(names) if names else '-'}")
    return 0


def _attention_line(registry, name: str) -> str:
    import torch

    try:
        backend = registry.get("attention", name).build()
        # on a GPU, probe in fp16 (what flash-attn takes); the CPU's backends run in fp32
        gpu = torch.cuda.is_available()
        probe = torch.zeros(1, 1, 1, 64, device="cuda" if gpu else "cpu", dtype=torch.float16 if gpu else torch.float32)
        reason = backend.unsupported_reason(probe)
    except Exception as exc:  # noqa: BLE001 - a broken backend is reported, not fatal
        reason = f"{type(exc).__name__}: {exc}"
    return name if reason is None else f"{name} (unavailable: {reason})"


def _cpu_kernels_line() -> str:
    """Which GEMM kernels the fused CPU sampler runs here (uva_kit.ops.packed_linear, csrc/cpu_vectors.h)."""
    import torch

    from uva_kit.ops.packed_linear import PANEL_ROWS

    capability = torch.backends.cpu.get_cpu_capability()
    if capability == "AVX512":
        rows = " and ".join(map(str, PANEL_ROWS))
        return (f"{capability}: sampler GEMMs on the panel kernel ({rows} rows), the small-batch kernel (1-3 rows), "
                "oneDNN otherwise")
    return f"{capability}: sampler GEMMs on oneDNN (the hand-written kernels need AVX512)"
