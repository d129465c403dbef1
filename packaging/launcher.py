"""Entry script of the frozen galaxyscope bundle (PyInstaller runs this file as ``__main__``).

Why a separate file instead of ``galaxyscope/__main__.py``: a frozen program must call
``multiprocessing.freeze_support()`` before anything else, or every process that
``galaxyscope synth --workers N`` spawns would start the whole command line again.
"""

import multiprocessing

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from galaxyscope.cli import main

    raise SystemExit(main())
