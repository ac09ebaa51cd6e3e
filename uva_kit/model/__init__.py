"""The assembled UVA model (``uva_kit.build``), its env-facing ``Policy``, and the pieces they share."""
