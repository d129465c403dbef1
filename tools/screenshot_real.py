"""Screenshots of the window on real galaxies, with the isophote layer (docs/real-after/).

    python -m tools.screenshot_real IMAGE OUT.png [--model M] [--isophotes]

Opens IMAGE as the app does, waits for its saliency and bar, optionally fits the
isophotes and shows their tab, and saves the window. Runs offscreen without a display.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("image")
    ap.add_argument("out")
    ap.add_argument("--model")
    ap.add_argument("--isophotes", action="store_true")
    args = ap.parse_args(argv)
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import tempfile

    from galaxyscope.gui.app import ensure_app, load_model_for_gui
    from galaxyscope.gui.main_window import MainWindow
    from galaxyscope.gui.settings import DEFAULT_WINDOW_SIZE, Settings
    from galaxyscope.images.imageset import ImageSet

    app = ensure_app()
    model, _ = load_model_for_gui(args.model)
    with tempfile.TemporaryDirectory() as tmp:
        w = MainWindow(model=model, settings=Settings(Path(tmp) / "s.ini"), disk_cache=None, restore_state=False)
        w.resize(*DEFAULT_WINDOW_SIZE)
        w.show()
        w.set_image_set(ImageSet.open(args.image), source=args.image)

        def wait(cond, timeout=120.0):
            end = time.time() + timeout
            while not cond() and time.time() < end:
                app.processEvents()
                time.sleep(0.02)
            return cond()

        wait(lambda: w.current_saliency is not None and bool(w.fits))
        if args.isophotes:
            w.fit_isophotes()
            wait(lambda: w.isophote_fit is not None)
            w.bottom_tabs.setCurrentWidget(w.isophote_panel)
        for _ in range(20):
            app.processEvents()
            time.sleep(0.02)
        w.grab().save(args.out)
        w.close()
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
