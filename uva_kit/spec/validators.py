"""attrs validators (and the path converter) shared by component specs (messages name the option and the bad value).

NaN and infinity are rejected wherever a bound is checked: no option is meaningful at either.
"""

from __future__ import annotations

import math
from pathlib import Path

from uva_kit.errors import InputError


def finite(instance, attribute, value) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise InputError(f"{attribute.name} must be a finite number, got {value}")


def positive(instance, attribute, value) -> None:
    finite(instance, attribute, value)
    if value <= 0:
        raise InputError(f"{attribute.name} must be positive, got {value}")


def non_negative(instance, attribute, value) -> None:
    finite(instance, attribute, value)
    if value < 0:
        raise InputError(f"{attribute.name} must be >= 0, got {value}")


def probability(instance, attribute, value) -> None:
    if not 0.0 <= value <= 1.0:
        raise InputError(f"{attribute.name} must be in [0, 1], got {value}")


def fraction_below_one(instance, attribute, value) -> None:
    if not 0.0 <= value < 1.0:
        raise InputError(f"{attribute.name} must be in [0, 1), got {value}")


def absolute_path(path: str | None) -> str | None:
    """A file or folder option made absolute (from the working directory at parse time), so a saved spec names the
    same file from any other directory (``--resume`` elsewhere, loading a model); None and "" stay as they are."""
    return str(Path(path).expanduser().resolve()) if path else path
