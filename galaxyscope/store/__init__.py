"""store package (no Qt)."""
