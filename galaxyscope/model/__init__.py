"""model package (no Qt)."""
