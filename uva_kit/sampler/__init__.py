"""Samplers (slot ``sampler``): run a head's reverse diffusion over a respaced schedule.

A sampler works with any denoiser that has ``time_embedding(t)``, ``condition_embedding(c)`` and
``forward_embedded(x, y)`` (see ``uva_kit.head.denoiser``).
"""
