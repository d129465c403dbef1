"""evaluate package (no Qt)."""
