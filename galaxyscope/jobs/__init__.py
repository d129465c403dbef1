"""Batch jobs over image sets (no Qt): each takes a progress callback and a cancel check."""
