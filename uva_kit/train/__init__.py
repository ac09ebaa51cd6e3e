"""Training: ``uva_kit.train.fit`` and the pieces it is made of."""

from uva_kit.train.loop import FitResult, fit, read_run_config

__all__ = ["FitResult", "fit", "read_run_config"]
