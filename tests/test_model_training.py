"""Training: learns an easy task, is reproducible, regresses in the column's units, reports problems."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from galaxyscope.errors import CancelledError, GalaxyscopeError
from galaxyscope.images.imageset import ImageSet
from galaxyscope.model.checkpoint import load_checkpoint, save_checkpoint
from galaxyscope.model.preprocess import Preprocessing
from galaxyscope.model.training import TrainingDivergedError, split_indices, train_model
from galaxyscope.model.trainset import TrainingDataError, load_training_data
from galaxyscope.model.val_metrics import binary_auc
from model_testdata import write_bar_dataset

PRE = Preprocessing(input_size=32, crop_fraction=0.75)
FAST = dict(preprocessing=PRE, batch_size=8, lr=3e-3)


@pytest.fixture(autouse=True)
def one_thread(one_torch_thread):
    """Every test here runs torch on one thread (fixture in conftest.py)."""


@pytest.fixture(scope="module")
def bars(tmp_path_factory):
    return write_bar_dataset(tmp_path_factory.mktemp("bars"), n=80, size=48, seed=0, n_broken=2)


@pytest.fixture(scope="module")
def fresh_bars(tmp_path_factory):
    s = ImageSet.open(write_bar_dataset(tmp_path_factory.mktemp("fresh"), n=30, size=48, seed=99))
    return [s[i] for i in range(len(s))], np.asarray(s.column("has_bar")) == 1


@pytest.fixture(scope="module")
def small_bars(tmp_path_factory):
    return write_bar_dataset(tmp_path_factory.mktemp("small"), n=24, size=40, seed=5)


def test_binary_auc_known_values():
    assert binary_auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1])) == pytest.approx(0.75)
    assert binary_auc(np.array([1.0, 1.0]), np.array([0, 1])) == 0.5  # ties count half
    assert np.isnan(binary_auc(np.array([1.0, 2.0]), np.array([1, 1])))


def test_split_is_seeded_disjoint_and_stratified():
    strata = np.array([0] * 10 + [1] * 4)
    tr, va = split_indices(14, 0.25, seed=1, strata=strata)
    assert sorted(np.concatenate([tr, va]).tolist()) == list(range(14))
    assert set(strata[va]) == {0, 1}
    tr2, va2 = split_indices(14, 0.25, seed=1, strata=strata)
    assert np.array_equal(tr, tr2) and np.array_equal(va, va2)
    assert not np.array_equal(va, split_indices(14, 0.25, seed=2, strata=strata)[1])


def test_learns_an_easy_bar_task(bars, fresh_bars):
    result = train_model(bars, ["has_bar"], epochs=10, patience=10, seed=0, **FAST)
    assert result.best.auc("has_bar") > 0.8
    ims, labels = fresh_bars  # new galaxies the network never saw
    p = result.model.predict(ims)[:, 0]
    assert ((p >= 0) & (p <= 1)).all()
    assert binary_auc(p, labels) > 0.8
    meta = result.model.meta
    assert meta.output_names == ["has_bar"] and meta.sigmoid_outputs == [True] and meta.task == "classify"
    assert meta.preprocessing == PRE
    assert len(meta.training_data_hash) == 64
    assert meta.metrics["val"]["outputs"][0]["auc"] == result.best.auc("has_bar")
    assert len(result.skipped) == 2 and all("broken_" in s for s in result.skipped)
    assert result.n_train + result.n_val == 80
    assert 0 < result.n_parameters < 300_000


def test_seeded_training_is_reproducible(small_bars):
    kw = dict(epochs=2, seed=7, **FAST)
    a = train_model(small_bars, ["has_bar"], **kw)
    b = train_model(small_bars, ["has_bar"], **kw)
    c = train_model(small_bars, ["has_bar"], **{**kw, "seed": 8})
    sa, sb, sc = (r.model.net.state_dict() for r in (a, b, c))
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert [h.train_loss for h in a.history] == [h.train_loss for h in b.history]
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)


def test_training_leaves_the_global_rng_alone(small_bars):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    train_model(small_bars, ["has_bar"], epochs=1, seed=0, **FAST)
    assert torch.equal(torch.rand(3), expected)


def test_best_epoch_weights_are_returned(small_bars):
    data = load_training_data(small_bars, ["has_bar"], preprocessing=PRE)
    result = train_model(data, epochs=4, patience=1, seed=3, augment=None, **FAST)
    losses = [h.val.loss for h in result.history]
    assert result.best_epoch == int(np.argmin(losses)) + 1
    assert result.best.loss == min(losses)
    if result.stopped_early:
        assert len(result.history) == result.best_epoch + 1
    # re-evaluating the returned network on the validation split gives the best loss
    _, val = split_indices(len(data), 0.2, 3, (data.targets[:, 0] >= 0.5).astype(int))
    net = result.model.net.eval()
    with torch.no_grad():
        out = net(data.as_float(torch.as_tensor(val)))
    y = torch.from_numpy(data.targets[val])
    loss = torch.nn.functional.binary_cross_entropy_with_logits(out, y)
    assert float(loss) == pytest.approx(result.best.loss, rel=1e-5)


def test_regression_predicts_in_column_units(bars, tmp_path):
    result = train_model(bars, regress="bar_length", epochs=3, seed=0, **FAST)
    meta = result.model.meta
    assert meta.task == "regress" and meta.sigmoid_outputs == [False]
    assert result.dropped == {"target <= 0 (regression uses barred galaxies only)": 42}  # 40 unbarred + 2 broken rows
    assert result.n_train + result.n_val == 40  # barred galaxies only
    s = ImageSet.open(bars)
    lengths = np.ma.filled(s.column("bar_length"), 0).astype(float)
    barred = np.flatnonzero(lengths > 0)
    assert meta.target_scale[0] == pytest.approx(lengths[barred].std(), rel=0.3)
    assert meta.target_offset[0] == pytest.approx(lengths[barred].mean(), rel=0.15)
    ims = [s[int(i)] for i in barred[:8]]
    pred = result.model.predict(ims)[:, 0]
    np.testing.assert_allclose(pred, result.model.logits(ims)[:, 0] * meta.target_scale[0]
                               + meta.target_offset[0], rtol=1e-5)
    assert lengths[barred].min() * 0.5 < np.median(pred) < lengths[barred].max() * 1.5
    out = result.best.outputs[0]
    assert out.name == "bar_length" and np.isnan(out.auc) and out.baseline_rmse > 0
    save_checkpoint(result.model, tmp_path / "r.safetensors")
    again = load_checkpoint(tmp_path / "r.safetensors")
    np.testing.assert_allclose(again.predict(ims)[:, 0], pred, rtol=1e-5)


def test_regression_all_rows_keeps_zeros(small_bars):
    data = load_training_data(small_bars, regress="bar_length", preprocessing=PRE, positive_only=False)
    assert len(data) == 24 and (data.targets == 0).sum() == 12


def test_vote_fractions_and_several_targets(small_bars):
    result = train_model(small_bars, ["p_bar", "has_bar"], epochs=1, seed=0, loss="mse", **FAST)
    assert result.model.meta.output_names == ["p_bar", "has_bar"]
    assert "MSE on the sigmoid" in result.model.meta.notes
    assert [o.name for o in result.best.outputs] == ["p_bar", "has_bar"]


def test_progress_log_and_cancel(small_bars):
    seen, lines = [], []
    train_model(small_bars, ["has_bar"], epochs=2, seed=0, progress=lambda d, t: seen.append((d, t)),
                log=lines.append, **FAST)
    assert seen[-1][0] == seen[-1][1] and all(t == seen[0][1] for _, t in seen)
    assert [d for d, _ in seen[:-1]] == sorted(d for d, _ in seen[:-1])
    assert sum(line.startswith("epoch ") for line in lines) == 2
    calls = []

    def cancel():
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(CancelledError):
        train_model(small_bars, ["has_bar"], epochs=2, seed=0, cancel=cancel, **FAST)


def test_user_errors(small_bars, tmp_path):
    with pytest.raises(GalaxyscopeError, match="no column 'nope'.*has_bar"):
        train_model(small_bars, ["nope"], epochs=1, **FAST)
    with pytest.raises(TrainingDataError, match="outside \\[0, 1\\].*--regress bar_length"):
        train_model(small_bars, ["bar_length"], epochs=1, **FAST)
    with pytest.raises(TrainingDataError, match="not numeric"):
        train_model(small_bars, ["name"], epochs=1, **FAST)
    with pytest.raises(GalaxyscopeError):
        train_model(tmp_path / "does-not-exist", ["has_bar"], epochs=1, **FAST)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(GalaxyscopeError):
        train_model(empty, ["has_bar"], epochs=1, **FAST)


def test_training_data_hash_tracks_targets(small_bars):
    a = load_training_data(small_bars, ["has_bar"], preprocessing=PRE)
    b = load_training_data(small_bars, ["has_bar"], preprocessing=Preprocessing(input_size=36))
    c = load_training_data(small_bars, ["p_bar"], preprocessing=PRE)
    assert a.data_hash == b.data_hash  # the same files and labels, whatever the preprocessing
    assert a.data_hash != c.data_hash
    assert a.images.dtype == torch.uint8 and a.images.shape == (24, 3, 32, 32)


def test_non_finite_loss_stops_with_a_clear_error(small_bars):
    data = load_training_data(small_bars, ["has_bar"], preprocessing=PRE)
    data.targets[:, 0] = np.nan  # what an exploding network produces, made certain
    with pytest.raises(TrainingDivergedError, match="smaller learning rate"):
        train_model(data, epochs=2, seed=0, **FAST)


def test_monitor_picks_the_epoch_on_one_outputs_auc(small_bars):
    data = load_training_data(small_bars, ["p_bar", "has_bar"], preprocessing=PRE)
    result = train_model(data, epochs=5, patience=5, seed=4, augment=None, monitor="has_bar", **FAST)
    aucs = [h.val.auc("has_bar") for h in result.history]
    assert len(result.history) == 5
    assert result.best_epoch == int(np.argmax(aucs)) + 1
    assert result.model.meta.metrics["monitor"] == "has_bar"
    assert f"best epoch {result.best_epoch} (chosen on has_bar's validation score)" in result.summary()
    # the default still selects on the summed validation loss
    plain = train_model(data, epochs=5, patience=5, seed=4, augment=None, **FAST)
    assert plain.best_epoch == int(np.argmin([h.val.loss for h in plain.history])) + 1
    assert plain.model.meta.metrics["monitor"] is None


def test_monitor_must_name_a_trained_output(small_bars):
    with pytest.raises(TrainingDataError, match="--monitor has_arms: not one of the outputs"):
        train_model(small_bars, ["has_bar"], epochs=1, monitor="has_arms", **FAST)
    data = load_training_data(small_bars, ["has_bar"], preprocessing=PRE)
    with pytest.raises(TrainingDataError, match="not one of the outputs being trained \\(has_bar\\)"):
        train_model(data, epochs=1, monitor="p_bar", **FAST)
    with pytest.raises(TrainingDataError, match="needs a validation split"):
        train_model(data, epochs=1, monitor="has_bar", val_fraction=0, **FAST)
