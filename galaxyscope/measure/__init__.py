"""measure package (no Qt)."""
