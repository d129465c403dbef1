"""Defaults of the calibrated bias scan, in a module without numpy or scipy.

Why apart: ``galaxyscope scan-bias --help`` shows them, and the help must not import
the heavy libraries (tests/test_cli_startup.py). `calibrate`, `reference` and `selftest`
take them from here.
"""

#: how thresholds are made: see galaxyscope.bias.calibrate
MODES: tuple[str, ...] = ("reference", "scan", "fixed")
#: level of the reference at which at most 1 - DEFAULT_QUANTILE of it flags (tuned on the grid's tuning sets)
DEFAULT_QUANTILE = 0.99
#: robust-outlier factor of the ``scan`` mode: median + K x 1.4826 MAD
DEFAULT_K = 5.0
#: a rule firing on more than this share of a set is a model-wide note, not per-image flags
DEFAULT_BROAD_FRACTION = 0.5
#: images in the synthetic reference: enough for a stable 99th percentile (two images above it)
DEFAULT_REFERENCE_N = 200
#: galaxies in each set of the planted-shortcut self-test
DEFAULT_SELFTEST_N = 100
#: in a set where the recurring-spot rule fired, a per-image flag on an image outside the spot
#: stands only at this many times its threshold (chosen on the grid's tuning sets: tried 1.25, 1.5, 2)
DEFAULT_SPOT_SET_FACTOR = 1.5
