"""Exceptions that say what is wrong and how to fix it."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The choice closest to ``word``, or None when nothing is close."""
    matches = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.5)
    return matches[0] if matches else None


def choices_hint(word: str, choices: Iterable[str]) -> str:
    """'Valid choices: a, b, c. Did you mean 'b'?' for an error message."""
    choices = sorted(str(c) for c in choices)
    hint = f" Valid choices: {', '.join(choices) if choices else '(none)'}."
    match = closest(word, choices)
    if match is not None:
        hint += f" Did you mean '{match}'?"
    return hint


class UvaKitError(Exception):
    """Base class of every error uva_kit raises on purpose."""


class UsageError(UvaKitError):
    """Command-line options that do not go together (or a missing one): the command prints its usage and exits 2."""


class InputError(UvaKitError, ValueError):
    """An argument, tensor or value given to uva_kit is wrong (a ValueError, so ``except ValueError`` catches it)."""


class MissingKeyError(UvaKitError, KeyError):
    """A dict given to uva_kit (an observation, a batch) lacks a key it needs."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class SpecError(UvaKitError, ValueError):
    """A spec is invalid. ``path`` is the dotted path of the offending value ('' for the root)."""

    def __init__(self, path: str, message: str):
        self.path = path
        self.message = message
        super().__init__(f"{path or '<spec>'}: {message}")


class RegistryError(UvaKitError, LookupError):
    """A component is unknown, or a name is registered twice."""

    def __str__(self) -> str:  # LookupError would quote the message
        return str(self.args[0])


class CheckpointError(UvaKitError):
    """A checkpoint is missing, incomplete, corrupt or does not match the model."""


class DataError(UvaKitError):
    """A dataset or data file is missing, malformed, truncated or too short for the requested windows."""
