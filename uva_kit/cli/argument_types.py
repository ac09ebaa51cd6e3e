"""argparse types shared by the subcommands: a bad value is a usage error naming the option."""

from __future__ import annotations

import argparse
import math


def _int_from(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got '{text}'") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be {minimum} or more, got {value}")
    return value


def non_negative_int(text: str) -> int:
    """An int >= 0 (seeds: environments and numpy refuse negative ones; counts of videos or pictures)."""
    return _int_from(text, 0)


def positive_int(text: str) -> int:
    """An int >= 1 (counts of episodes, steps, workers, threads; batch sizes)."""
    return _int_from(text, 1)


def _float_from(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got '{text}'") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {value}")
    return value


def positive_float(text: str) -> float:
    """A finite float > 0 (minutes of a budget, learning rates)."""
    value = _float_from(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {value}")
    return value


def non_negative_float(text: str) -> float:
    """A finite float >= 0 (loss weights)."""
    value = _float_from(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def open_fraction(text: str) -> float:
    """A float strictly between 0 and 1 (a held-out share)."""
    value = _float_from(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (both excluded), got {value}")
    return value


def add_device_argument(parser: argparse.ArgumentParser, default: str | None = None) -> None:
    """``--device``: a torch device; None (the default default) picks cuda when available."""
    shown = default or "cuda when available, else cpu"
    parser.add_argument("--device", default=default, help=f"torch device: cpu, cuda or cuda:N (default: {shown})")
