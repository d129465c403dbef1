"""How the browser copes with a 100k-image set: build the model, filter, sort, scroll (offscreen).

Run: QT_QPA_PLATFORM=offscreen .venv/bin/python -m benchmarks.bench_gui_browser [N]
Prints milliseconds per step. The entries all point at one bundled JPEG, so only
the model/view work is measured (thumbnails are read for visible rows only).
"""

from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
from astropy.table import Table


def run(n: int = 100_000) -> None:
    from PySide6.QtCore import Qt

    from galaxyscope.gui.app import ensure_app
    from galaxyscope.gui.browser import BrowserModel, BrowserWidget
    from galaxyscope.gui.thumbnails import ThumbnailLoader
    from galaxyscope.images.imageset import ImageEntry, ImageSet
    from galaxyscope.resources import sample_path

    app = ensure_app()
    jpeg = sample_path("gz-bar-examples", "sdss", "sloan-2_a-0_0.jpg")
    rng = np.random.default_rng(0)
    cat = Table({"filename": [f"img_{i:06d}.jpg" for i in range(n)],
                 "has_bar": rng.integers(0, 2, n), "redshift": rng.uniform(0.01, 0.2, n),
                 "survey": rng.choice(["sdss", "decals"], n)})
    entries = [ImageEntry(path=jpeg, key=f"img_{i:06d}.jpg", row_index=i, catalogue=cat) for i in range(n)]
    s = ImageSet(jpeg.parent, entries, catalogue=cat)

    def timed(label, fn):
        t = time.perf_counter()
        fn()
        app.processEvents()
        print(f"{label:<32} {1000 * (time.perf_counter() - t):8.1f} ms")

    widget = BrowserWidget()
    widget.resize(400, 900)
    widget.show()
    holder = {}
    timed("model for %d rows" % n, lambda: holder.setdefault(
        "m", BrowserModel(s, ThumbnailLoader(s, 48))))
    model = holder["m"]
    timed("attach to view", lambda: widget.set_model(model))
    timed("filter has_bar == 1", lambda: model.set_filter("has_bar == 1 and redshift < 0.1"))
    print(f"  rows after filter: {model.rowCount()}")
    timed("sort by redshift (desc)", lambda: model.sort(model.columns.index("redshift"), Qt.SortOrder.DescendingOrder))
    timed("sort by file name", lambda: model.sort(0))
    timed("clear filter", lambda: model.set_filter(""))
    timed("jump to last row", lambda: widget.select_row(model.rowCount() - 1))
    timed("scroll 200 pages", lambda: [widget.table.verticalScrollBar().setValue(k * 5000) or app.processEvents()
                                      for k in range(200)])


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.bench_gui_browser [N]``."""
    import argparse

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("n", nargs="?", type=int, default=100_000, help="rows in the fake set (default 100000)")
    run(ap.parse_args(argv).n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
