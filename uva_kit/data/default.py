"""The small PushT dataset shipped inside the package, for tests and the quickstart (no collection needed).

20 episodes from the diverse PushT expert (``uva-kit collect pusht --episodes 20 --seed 0``), LeRobotDataset
v3 layout, about 0.5 MB.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from uva_kit.errors import DataError


def default_pusht_dataset() -> Path:
    """Path of the shipped PushT dataset (a LeRobotDataset v3 folder)."""
    path = Path(str(resources.files("uva_kit.data") / "default_pusht"))
    if not (path / "meta" / "info.json").is_file():
        raise DataError(f"{path}: the shipped PushT dataset is missing from this installation; reinstall uva_kit")
    return path
