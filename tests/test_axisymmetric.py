"""The galaxy's axisymmetric model (the bar-free baseline of issue 20's attributions)."""

from __future__ import annotations

import numpy as np
import pytest

from galaxyscope.saliency.axisymmetric import axisymmetric_model, disc_geometry, elliptical_radius

SIZE = 96


def disc(q: float = 0.6, orientation: float = 0.5, scale: float = 9.0) -> np.ndarray:
    c = (SIZE - 1) / 2
    r = elliptical_radius((SIZE, SIZE), c, c, q, orientation)
    return np.exp(-r / scale).astype(np.float32)


def bar_footprint(length: float = 36.0, width: float = 2.5, angle: float = 1.6) -> np.ndarray:
    c = (SIZE - 1) / 2
    yy, xx = np.mgrid[:SIZE, :SIZE].astype(float)
    along = (xx - c) * np.cos(angle) + (yy - c) * np.sin(angle)
    across = -(xx - c) * np.sin(angle) + (yy - c) * np.cos(angle)
    return np.exp(-0.5 * ((along / (length / 2)) ** 8 + (across / width) ** 2))


def test_geometry_of_an_inclined_disc_is_recovered():
    x0, y0, q, theta = disc_geometry(disc(q=0.55, orientation=0.5))
    assert x0 == pytest.approx((SIZE - 1) / 2, abs=0.5) and y0 == pytest.approx((SIZE - 1) / 2, abs=0.5)
    assert q == pytest.approx(0.55, abs=0.06)
    assert theta == pytest.approx(0.5, abs=0.05)


def test_an_axisymmetric_disc_is_its_own_model():
    img = disc()
    model = axisymmetric_model(img)
    assert model.shape == img.shape and model.dtype == np.float32
    assert np.abs(model - img).max() < 0.05 * img.max()


def test_a_bar_stays_out_of_the_model_and_in_the_residual():
    base = disc(q=0.8, orientation=0.2)
    bar = 0.5 * bar_footprint()
    img = np.stack([base + bar, 0.8 * (base + bar), 0.6 * (base + bar)])  # three channels
    model = axisymmetric_model(img)
    assert model.shape == img.shape
    resid = np.clip(img - model, 0, None).sum(axis=0)
    assert resid[bar_footprint() > 0.1].sum() > 0.8 * resid.sum()  # the residual is the bar
    on_bar = bar_footprint() > 0.5
    # the median annuli keep the bar out where it covers less than half of an annulus (its outer
    # half, which sets its length): there the model is close to the disc alone
    c = (SIZE - 1) / 2
    outer = on_bar & (elliptical_radius((SIZE, SIZE), c, c, 1.0, 0.0) > 9)
    assert np.median(np.abs(model[0] - base)[outer]) < 0.15 * np.median(bar[outer])


def test_a_flat_frame_gives_a_flat_model():
    flat = np.full((SIZE, SIZE), 0.3, np.float32)
    assert np.allclose(axisymmetric_model(flat), 0.3)
