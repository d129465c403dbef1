"""Developer tools that write into the repository (docs pictures, calibration), not shipped.

Run them from the repository root: ``python -m tools.NAME --help``.
"""
