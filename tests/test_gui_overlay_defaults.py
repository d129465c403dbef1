"""The saliency overlay's default opacity leaves the bar it explains visible (issue 17, item 1)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from galaxyscope.gui.display import saliency_rgba  # noqa: E402
from galaxyscope.gui.overlays import colormap_lut  # noqa: E402
from galaxyscope.gui.session_state import SessionState  # noqa: E402


def test_default_opacity_keeps_the_image_under_the_hottest_saliency(qtbot):
    from galaxyscope.gui.controls import SaliencyControls

    state = SessionState()
    assert 35 <= state.display.opacity <= 45
    controls = SaliencyControls()
    qtbot.addWidget(controls)
    assert controls.opacity.value() == state.display.opacity  # the slider starts where the state does
    m = np.linspace(0.0, 1.0, 101, dtype=np.float32)[None, :]
    rgba = saliency_rgba(m, colormap_lut(state.display.saliency_cmap), opacity=state.display.opacity / 100.0)
    alpha = rgba[0, :, 3] / 255.0
    assert alpha.max() <= 0.46  # the brightest map pixel still lets over half of the bar's light through
    assert (alpha[m[0] <= 0.1] == 0).all()  # low saliency is fully transparent: the disc stays readable
    # a white bar pixel under the hottest saliency stays brighter than the map's own colour alone
    top = rgba[0, -1, :3] / 255.0
    blended = (1 - alpha[-1]) * 1.0 + alpha[-1] * top
    assert blended.mean() > 0.6
