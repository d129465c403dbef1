"""bias package (no Qt)."""
