"""Research scripts (experiments, figures, tuning) beside the app; see experiments/common.py.

Run them from the repository root: ``python -m experiments.NAME --help``.
"""
