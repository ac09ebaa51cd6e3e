"""Text encoders (slot ``text_encoder``): instructions -> one vector each, ``(B, output_dim)``. No build context."""
