"""Blind annotation across the window: which views hide the machine's numbers, and when.

Why in one place: the image overlays, the title, the browser, the Measurements table,
the Agreement & vetting tab and the Controls dock all show the machine's answer, and a
number anywhere anchors the line being drawn as much as one on the image. Two rules:

- views of the whole set (browser columns, Measurements table, Agreement & vetting,
  the Bias tab's checks) are hidden for all of annotate mode: they list images the
  annotator has not answered;
- views of the image on screen (the Controls dock's score and bar result, the Bias
  tab's galaxy-mask outline, published reference circles, like the title and the
  overlays) follow ``AnnotateState.blind``: shown once the annotator has answered
  this image (a bar or "no bar") and V is on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from galaxyscope.gui.main_window import MainWindow
    from galaxyscope.gui.session_state import AnnotateState


def apply_blind(w: MainWindow, annotate: AnnotateState) -> None:
    """Hide or show the machine's numbers in ``w``'s views for the annotate state now."""
    w.browser.set_results_hidden(annotate.active)
    w.measurements.set_results_hidden(annotate.active)
    w.annotate.vetting.set_results_hidden(annotate.active)
    w.bias.set_blind(annotate.blind, annotating=annotate.active)
    w.saliency_controls.set_result_hidden(annotate.blind)
    w.bar_controls.set_result_hidden(annotate.blind)
    last = w.image_view.last_readout
    if annotate.blind and last is not None and last.saliency is not None:  # the value left from before
        w.readout_label.setText("")
