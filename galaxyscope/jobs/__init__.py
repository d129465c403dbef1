"""jobs package (no Qt)."""
