"""synth package (no Qt)."""
