"""Modalities (slot ``modality``): the data a UVA model reads and predicts (video, action, language, plugins)."""
