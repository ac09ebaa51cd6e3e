"""Gaussian diffusion for the heads: noise schedules, respacing and the training loss (MSE + VB).

The samplers that run the reverse process are their own registry slot (``uva_kit.sampler``).
"""
