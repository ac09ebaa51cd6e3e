"""uva-kit-sound: the ``sound`` modality (per-frame log-mel features of synthesized contact sound)."""

__version__ = "0.1.0"
