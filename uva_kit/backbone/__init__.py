"""Backbones (slot ``backbone``): fuse the per-position streams and mix them into joint latents."""
