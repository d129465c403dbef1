"""The realism report's feature extractors and classifiers measure what they claim.

Each test plants a known property (noise sigma, noise correlation, a star's width, a colour, a
symmetric profile, two identical or two different samples) and checks that the number the
report would print recovers it; a broken extractor gives a wrong renderer yardstick silently.
"""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


def _load():
    spec = importlib.util.spec_from_file_location("realism_bench", REPO / "benchmarks" / "realism.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["realism_bench"] = mod
    spec.loader.exec_module(mod)
    return mod


R = _load()


def gaussian_blob(shape, x0, y0, sigma, amp, q=1.0):
    yy, xx = np.mgrid[: shape[0], : shape[1]].astype(float)
    return amp * np.exp(-0.5 * (((xx - x0) / sigma) ** 2 + ((yy - y0) / (sigma * q)) ** 2))


def test_sky_noise_recovers_a_gaussian_sigma_despite_stars():
    rng = np.random.default_rng(1)
    sky = 20.0 + rng.normal(0, 4.0, (200, 200))
    for x, y in ((30, 40), (150, 60), (90, 170)):
        sky += gaussian_blob(sky.shape, x, y, 1.5, 200.0)
    med, std = R.sky_stats(sky)
    assert abs(med - 20.0) < 0.3
    assert abs(std / 4.0 - 1) < 0.10
    assert abs(R.robust_sigma(sky) / 4.0 - 1) < 0.10


def test_sky_mean_is_not_stuck_on_whole_dn_like_the_median():
    rng = np.random.default_rng(11)
    sky = np.round(2.4 + rng.normal(0, 2.0, 20000))  # a JPEG's integer sky
    assert abs(R.sky_mean(sky) - 2.4) < 0.1
    assert R.sky_stats(sky)[0] == round(R.sky_stats(sky)[0])  # the median is a whole DN


def test_segment_masks_sources_and_measures_the_sky_noise():
    rng = np.random.default_rng(2)
    img = 10.0 + rng.normal(0, 3.0, (160, 160)) + gaussian_blob((160, 160), 80, 80, 12, 120.0)
    seg = R.segment(img)
    assert seg.central > 0
    assert not seg.background[80, 80]  # the galaxy is not sky
    assert abs(seg.noise / 3.0 - 1) < 0.10 and abs(seg.sky - 10.0) < 0.5


def test_correlated_noise_has_higher_lag1_autocorrelation_than_white_noise():
    from scipy import ndimage

    rng = np.random.default_rng(3)
    white = rng.normal(0, 5.0, (150, 150))
    smooth = ndimage.gaussian_filter(rng.normal(0, 5.0, (150, 150)), 1.2)
    mask = np.ones(white.shape, bool)
    a_white = R.noise_autocorr(white, mask, 1)
    a1, a2 = R.noise_autocorr(smooth, mask, 1), R.noise_autocorr(smooth, mask, 2)
    assert abs(a_white) < 0.05
    assert a1 > 0.6 and a1 > a2 > 0.2


def test_shared_noise_between_channels_is_seen():
    rng = np.random.default_rng(4)
    common = rng.normal(0, 4.0, (100, 100))
    same = np.stack([common, common, common], axis=2) + 30
    indep = rng.normal(30, 4.0, (100, 100, 3))
    mask = np.ones((100, 100), bool)
    assert R.channel_noise(same, mask)["noise_chan_corr"] > 0.95
    got = R.channel_noise(indep, mask)
    assert abs(got["noise_chan_corr"]) < 0.1
    assert abs(got["noise_rg"] - 1) < 0.1


def test_point_sources_are_counted_and_their_fwhm_is_the_gaussians():
    rng = np.random.default_rng(5)
    shape = (200, 200)
    sigma = 1.6
    img = 5.0 + rng.normal(0, 2.0, shape)
    stars = ((40, 50), (150, 40), (60, 150), (160, 160))
    for x, y in stars:
        img += gaussian_blob(shape, x, y, sigma, 90.0)
    found = R.find_point_sources(img, 5.0, 2.0)
    assert found.n == len(stars)
    assert abs(found.median_fwhm() / (2.3548 * sigma) - 1) < 0.10
    # the galaxy mask excludes what lies on it
    excl = np.zeros(shape, bool)
    excl[30:70, 30:70] = True
    assert R.find_point_sources(img, 5.0, 2.0, exclude=excl, fit=False).n == len(stars) - 1


def test_galaxy_colours_recover_planted_band_ratios_and_gradient():
    shape = (120, 120)
    core = gaussian_blob(shape, 60, 60, 4, 100.0)
    disc = gaussian_blob(shape, 60, 60, 20, 30.0)
    g = core + disc
    r = 1.3 * core + 1.0 * disc
    b = 0.6 * core + 1.2 * disc  # blue disc, red core: B/G rises outwards
    rgb = np.stack([r, g, b], axis=2) + 8.0
    seg = g > 1.0
    got = R.galaxy_colours(rgb, seg, (8.0, 8.0, 8.0), centre=(60.0, 60.0), r50=8.0)
    assert abs(got["gal_rg"] - float(r[seg].sum() / g[seg].sum())) < 1e-9
    assert got["gal_bg_gradient"] > 0.2


def test_morphology_of_a_round_gaussian_is_symmetric_with_the_gaussians_concentration():
    pytest.importorskip("statmorph")
    rng = np.random.default_rng(6)
    shape = (150, 150)
    img = gaussian_blob(shape, 75.3, 74.6, 9.0, 150.0) + rng.normal(0, 1.0, shape)
    seg = R.segment(img)
    m = R.morphology(img, seg.labels, seg.central, seg.noise, seg.sky, binning=1)
    # 2D Gaussian: r_f = sigma sqrt(-2 ln(1 - f)), C = 5 log10(r80 / r20) = 2.15
    assert abs(m["concentration"] - 2.15) < 0.25
    assert abs(m["asymmetry"]) < 0.05
    assert m["ellipticity"] < 0.1
    # a clumpy galaxy is more asymmetric than the smooth one
    clumpy = img + gaussian_blob(shape, 88, 70, 2.0, 60.0) + gaussian_blob(shape, 66, 86, 2.0, 40.0)
    seg2 = R.segment(clumpy)
    m2 = R.morphology(clumpy, seg2.labels, seg2.central, seg2.noise, seg2.sky, binning=1)
    assert m2["asymmetry"] > m["asymmetry"] + 0.05


def test_extract_features_on_a_planted_frame():
    rng = np.random.default_rng(7)
    shape = (160, 160)
    gal = gaussian_blob(shape, 80, 80, 10, 120.0, q=0.6)
    g = 12 + gal + rng.normal(0, 3, shape)
    rgb = np.stack([12 + 1.2 * gal, g - 12 + 12, 12 + 0.8 * gal], axis=2) + rng.normal(0, 3, (*shape, 3))
    f = R.extract_features(rgb, with_morphology=False)
    assert set(f) == set(R.FEATURE_NAMES)
    assert abs(f["gal_rg"] - 1.2) < 0.1 and abs(f["gal_bg"] - 0.8) < 0.1
    assert 0.05 < f["r90_frac"] < 0.25
    assert abs(f["sky_level"] - 12) < 1.0


def _two_samples(shift: float, n: int = 120, d: int = 5, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = np.vstack([rng.normal(0, 1, (n, d)), rng.normal(0, 1, (n, d))])
    X[:n, 0] += shift
    y = np.r_[np.ones(n), np.zeros(n)]
    return X, y


def test_logistic_auc_is_half_for_one_distribution_and_one_for_two():
    from galaxyscope.model.val_metrics import binary_auc

    X, y = _two_samples(0.0)
    X[5, 2] = np.nan  # missing values are imputed, not fatal
    same = binary_auc(R.logistic_cv_scores(X, y, seed=1), y.astype(bool))
    X, y = _two_samples(5.0)
    diff = binary_auc(R.logistic_cv_scores(X, y, seed=1), y.astype(bool))
    assert 0.35 < same < 0.65
    assert diff > 0.98


def test_stratified_folds_balance_classes():
    y = np.r_[np.ones(50), np.zeros(30)]
    folds = R.stratified_folds(y, 5, seed=0)
    for f in range(5):
        assert (y[folds == f] == 1).sum() == 10 and (y[folds == f] == 0).sum() == 6


def test_cnn_tells_clearly_different_images_apart_and_not_identical_ones(one_torch_thread):
    from galaxyscope.model.val_metrics import binary_auc

    rng = np.random.default_rng(8)
    n = 40
    noisy = rng.normal(0.3, 0.15, (n, 3, 16, 16)).clip(0, 1).astype(np.float32)
    flat = np.full((n, 3, 16, 16), 0.3, np.float32) + rng.normal(0, 0.01, (n, 3, 16, 16)).astype(np.float32)
    y = np.r_[np.ones(n), np.zeros(n)]
    diff = binary_auc(R.cnn_cv_scores(np.concatenate([noisy, flat]), y, k=4, epochs=8, lr=1e-2), y.astype(bool))
    assert diff > 0.9
    same = rng.normal(0.3, 0.15, (2 * n, 3, 16, 16)).clip(0, 1).astype(np.float32)
    chance = binary_auc(R.cnn_cv_scores(same, y, k=4, epochs=4, lr=1e-2), y.astype(bool))
    assert 0.25 < chance < 0.75


def test_ks_gaps_rank_the_shifted_feature_first():
    rng = np.random.default_rng(9)
    feats = {}
    for name, shift in (("same", 0.0), ("big", 3.0), ("small", 0.7)):
        ks, p = R.ks_gap(rng.normal(shift, 1, 100), rng.normal(0, 1, 100))
        feats[name] = {"ks": ks, "ks_p": p}
    feats["undefined"] = {"ks": math.nan, "ks_p": math.nan}
    assert [k for k, _ in R.ranked_gaps(feats)] == ["big", "small", "same", "undefined"]
    assert math.isnan(R.ks_gap([1.0, 2.0], [1.0, 2.0, 3.0])[0])
    s = R.summarise([1.0, 2.0, 3.0, np.nan])
    assert s["median"] == 2.0 and s["n"] == 3


def _fake_result(shift: float) -> "R.SurveyResult":
    rng = np.random.default_rng(10)
    synth = {k: list(rng.normal(shift, 1, 30)) for k in R.FEATURE_NAMES}
    real = {k: list(rng.normal(0, 1, 30)) for k in R.FEATURE_NAMES}
    features = {}
    for k in R.FEATURE_NAMES:
        ks, p = R.ks_gap(synth[k], real[k])
        features[k] = {"synthetic": R.summarise(synth[k]), "real": R.summarise(real[k]), "ks": ks, "ks_p": p}
    est = {"auc": 0.9, "low": 0.8, "high": 0.95, "n": 60}
    return R.SurveyResult("sdss", "/x", ["a.jpg"] * 30, ["b.jpg"] * 30, ["spiral"] * 10 + ["non_spiral"] * 20,
                          synth, real, features, {"logistic_features": est, "cnn_64px": est},
                          {"sky_noise": 1.0}, 1.0)


def test_report_round_trips_through_json_and_shows_before_and_after(tmp_path):
    import argparse

    before = _fake_result(2.0)
    args = argparse.Namespace(seed=1, n=30)
    jpath = tmp_path / "realism-before.json"
    jpath.write_text(json.dumps(R.result_json([before], "before", args, 1.0, jpath)))
    loaded = R._load_before(jpath)
    assert loaded["surveys"][0]["classifiers"]["cnn_64px"]["auc"] == 0.9
    after = _fake_result(0.0)
    out = tmp_path / "realism.md"
    plots = tmp_path / "realism"
    plots.mkdir()
    R.write_markdown([after], out, "after", "python benchmarks/realism.py", 2.0, loaded, plots)
    text = out.read_text()
    assert "KS before" in text and "| AUC before | AUC now |" in text and "## Largest gaps" in text
    assert "| sdss | tiny CNN, whole frame at 64x64 | 0.900 [0.800, 0.950] | 0.900 [0.800, 0.950] |" in text
    R.plot_features(after, plots / "sdss_features.png", loaded["surveys"][0])
    assert (plots / "sdss_features.png").stat().st_size > 1000
    R.plot_scatter(after, plots / "sdss_scatter.png", loaded["surveys"][0])
    assert (plots / "sdss_scatter.png").stat().st_size > 1000
    assert "the galaxy alone" in text
