"""argparse types shared by the subcommands: a bad value is a usage error naming the option."""

from __future__ import annotations

import argparse


def non_negative_int(text: str) -> int:
    """An int >= 0 (seeds: environments and numpy refuse negative ones)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got '{text}'") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def add_device_argument(parser: argparse.ArgumentParser, default: str | None = None) -> None:
    """``--device``: a torch device; None (the default default) picks cuda when available."""
    shown = default or "cuda when available, else cpu"
    parser.add_argument("--device", default=default, help=f"torch device: cpu, cuda or cuda:N (default: {shown})")
