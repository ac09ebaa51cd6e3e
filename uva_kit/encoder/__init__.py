"""Image encoders (slot ``encoder``): frames (B, T, 3, H, W) in [0, 1] <-> latents (B, T, C, h, w)."""
