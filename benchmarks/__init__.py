"""Speed, memory and realism benchmarks beside the app.

Run them from the repository root: ``python -m benchmarks.NAME --help``.
"""
