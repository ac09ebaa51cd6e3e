"""Attention backends (slot ``attention``): callables ``(q, k, v) -> out`` on (B, heads, L, head_dim)."""
