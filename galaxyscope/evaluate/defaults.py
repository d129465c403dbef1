"""The defaults ``galaxyscope evaluate --help`` shows, without importing SciPy or astropy.

Why a copy: the modules that use these values (metrics, baselines, comparison)
import SciPy and astropy.table, which would make every ``--help`` slow;
tests/test_cli_startup.py checks each value equals the one its module uses.
"""

from __future__ import annotations

DEFAULT_RESAMPLES = 2000  # metrics.DEFAULT_RESAMPLES: bootstrap resamples
DEFAULT_CONFIDENCE = 0.95  # metrics.DEFAULT_CONFIDENCE: interval level
DEFAULT_KEY = "filename"  # comparison.DEFAULT_KEY: join column
DEFAULT_FOLDS = 5  # baselines.DEFAULT_FOLDS: cross-validation folds of the size baseline
