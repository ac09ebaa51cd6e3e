"""Masking strategies (slot ``masking``): which future tokens to hide, and which given inputs to drop."""
