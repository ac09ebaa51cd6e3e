"""Diffusion heads (slot ``head``): decode a modality from the backbone's joint latents."""
