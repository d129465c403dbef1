"""saliency package (no Qt)."""
