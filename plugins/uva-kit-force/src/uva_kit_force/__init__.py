"""uva-kit-force: the ``force`` modality (contact force/impulse chunks aligned with the actions)."""

__version__ = "0.1.0"
