"""Saliency cache: hits skip the model, keys follow what defines the map, writes are
atomic, broken files are recomputed, the root follows the environment, eviction."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from galaxyscope.images.galaxy_image import GalaxyImage
from galaxyscope.model.loaded import LoadedModel, ModelMeta
from galaxyscope.model.preprocess import Preprocessing
from galaxyscope.saliency import cache as cache_mod
from galaxyscope.saliency.cache import SaliencyCache, default_cache_root, model_fingerprint

S = 32

DEVICES = [
    "cpu",
    pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")),
]


def make_model(seed: int = 0, sha: str = "abc123", input_size: int = S, device: str = "cpu") -> LoadedModel:
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, stride=2, padding=1),
                        nn.ReLU(), nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(64, 2))
    meta = ModelMeta(architecture="test", output_names=["smooth", "has_bar"], sigmoid_outputs=[True, True],
                     preprocessing=Preprocessing(input_size=input_size, crop_fraction=0.5))
    return LoadedModel(net=net, meta=meta, sha256=sha, device=torch.device(device))


def make_image(seed: int = 1, id: str = "g1") -> GalaxyImage:
    return GalaxyImage(np.random.default_rng(seed).random((60, 70, 3), dtype=np.float32), id=id)


def count_forwards(model: LoadedModel) -> list[int]:
    calls = [0]
    model.net.register_forward_hook(lambda *a: calls.__setitem__(0, calls[0] + 1))
    return calls


@pytest.mark.parametrize("device", DEVICES)
def test_hit_returns_same_map_without_calling_the_model(tmp_path, device):
    cache = SaliencyCache(tmp_path)
    model, img = make_model(device=device), make_image()
    calls = count_forwards(model)
    first = cache.get_or_compute(model, img, n_samples=4, chunk=2)
    n_after_first = calls[0]
    assert n_after_first > 0 and not first.from_cache
    second = cache.get_or_compute(model, img, n_samples=4, chunk=2)
    assert calls[0] == n_after_first  # not one forward pass on a hit
    assert second.from_cache
    assert np.array_equal(second.map, first.map) and np.array_equal(second.model_map, first.model_map)
    assert second.map.dtype == np.float32
    assert (second.method, second.target, second.params) == (first.method, first.target, first.params)
    assert second.score == first.score
    assert len(cache.files()) == 1


def test_key_follows_what_defines_the_map(tmp_path):
    cache = SaliencyCache(tmp_path)
    model, img = make_model(), make_image()
    base = cache.key(model, img, n_samples=10)
    changed_pixels = make_image()
    changed_pixels.pixels[30, 30, 1] += 1e-3
    different = {
        "n_samples": cache.key(model, img, n_samples=11),
        "noise": cache.key(model, img, n_samples=10, noise=0.2),
        "seed": cache.key(model, img, n_samples=10, seed=1),
        "method": cache.key(model, img, "smoothgrad_x_input", n_samples=10),
        "target": cache.key(model, img, target="smooth", n_samples=10),
        "model hash": cache.key(make_model(sha="def456"), img, n_samples=10),
        "input size": cache.key(make_model(input_size=24), img, n_samples=10),
        "pixels": cache.key(model, changed_pixels, n_samples=10),
    }
    for what, k in different.items():
        assert k != base, what
    assert len(set(different.values())) == len(different)
    # same map, same key: execution detail, image id, default spelled out, int vs float, target by name
    assert cache.key(model, img, n_samples=10, chunk=1) == base
    assert cache.key(model, make_image(id="other-name"), n_samples=10) == base
    assert cache.key(model, img, n_samples=10, noise=0.1, seed=0) == base
    assert cache.key(model, img, n_samples=10.0) == base
    assert cache.key(model, img, target="has_bar", n_samples=10) == base
    # parameters of other methods do not split Grad-CAM's entries
    assert cache.key(model, img, "gradcam", n_samples=5) == cache.key(model, img, "gradcam", n_samples=50)
    assert cache.key(model, img, "ig", n_steps=5) != cache.key(model, img, "ig", n_steps=6)
    assert cache.key(model, img, "ig", baseline="blur") != cache.key(model, img, "ig")


def test_model_without_sha_is_keyed_by_its_weights():
    a, b, c = make_model(0, sha=""), make_model(0, sha=""), make_model(1, sha="")
    assert model_fingerprint(a) == model_fingerprint(b) != model_fingerprint(c)
    with torch.no_grad():
        b.net[0].weight[0, 0, 0, 0] += 1e-4
    assert model_fingerprint(a) != model_fingerprint(b)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_corrupted_file_is_a_miss_and_is_replaced(tmp_path, damage):
    cache = SaliencyCache(tmp_path)
    model, img = make_model(), make_image()
    good = cache.get_or_compute(model, img, n_samples=3)
    path = cache.path_for(cache.key(model, img, n_samples=3))
    data = path.read_bytes()
    path.write_bytes({"garbage": b"not an npz at all" * 10, "truncated": data[: len(data) // 2], "empty": b""}[damage])
    calls = count_forwards(model)
    again = cache.get_or_compute(model, img, n_samples=3)
    assert calls[0] > 0 and not again.from_cache  # recomputed
    np.testing.assert_array_equal(again.map, good.map)
    hit = cache.get(cache.key(model, img, n_samples=3))
    assert hit is not None and hit.from_cache  # the file was rewritten and reads back


def test_file_under_another_key_is_rejected(tmp_path):
    cache = SaliencyCache(tmp_path)
    model, img = make_model(), make_image()
    cache.get_or_compute(model, img, n_samples=3)
    k1 = cache.key(model, img, n_samples=3)
    k2 = cache.key(model, img, n_samples=4)
    cache.path_for(k2).parent.mkdir(parents=True, exist_ok=True)
    cache.path_for(k1).replace(cache.path_for(k2))
    assert cache.get(k2) is None and not cache.path_for(k2).exists()


def test_failed_write_leaves_old_file_and_no_temp(tmp_path, monkeypatch):
    cache = SaliencyCache(tmp_path)
    model, img = make_model(), make_image()
    first = cache.get_or_compute(model, img, n_samples=3)
    key = cache.key(model, img, n_samples=3)
    before = cache.path_for(key).read_bytes()

    def crash_midway(f, **arrays):
        f.write(b"PK\x03\x04 half a zip")
        raise OSError("disk full")

    monkeypatch.setattr(cache_mod.np, "savez_compressed", crash_midway)
    with pytest.raises(OSError, match="disk full"):
        cache.put(key, first)
    assert cache.path_for(key).read_bytes() == before
    assert not list(tmp_path.rglob("*.tmp"))
    monkeypatch.undo()
    assert cache.get(key) is not None


def test_float16_storage_gives_same_values_on_miss_and_hit(tmp_path):
    model, img = make_model(), make_image()
    exact = SaliencyCache(tmp_path / "f32").get_or_compute(model, img, n_samples=3)
    half = SaliencyCache(tmp_path / "f16", dtype="float16")
    miss = half.get_or_compute(model, img, n_samples=3)
    hit = half.get_or_compute(model, img, n_samples=3)
    assert hit.from_cache and np.array_equal(miss.map, hit.map)
    assert np.abs(miss.map - exact.map).max() < 1e-3
    with np.load(half.files()[0]) as z:
        assert z["map"].dtype == np.float16


def test_default_root_follows_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("GALAXYSCOPE_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_root() == tmp_path / "xdg" / "galaxyscope" / "saliency"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_root() == tmp_path / "home" / ".cache" / "galaxyscope" / "saliency"
    monkeypatch.setenv("GALAXYSCOPE_CACHE", str(tmp_path / "mine"))
    assert default_cache_root() == tmp_path / "mine" / "saliency"
    assert SaliencyCache().root == tmp_path / "mine" / "saliency"


def test_eviction_removes_least_recently_used(tmp_path):
    cache = SaliencyCache(tmp_path)
    model = make_model()
    images = [make_image(seed=s, id=f"g{s}") for s in range(3)]
    keys = []
    for i, im in enumerate(images):
        cache.get_or_compute(model, im, "saliency")
        keys.append(cache.key(model, im, "saliency"))
        os.utime(cache.path_for(keys[-1]), (1000.0 + i, 1000.0 + i))  # g0 oldest
    cache.get(keys[0])  # a hit makes g0 the most recently used
    one = max(p.stat().st_size for p in cache.files())
    limited = SaliencyCache(tmp_path, max_bytes=int(2.5 * one))
    limited.get_or_compute(model, make_image(seed=9, id="g9"), "saliency")  # the write triggers eviction
    remaining = {Path(p).stem for p in limited.files()}
    assert keys[1] not in remaining and keys[2] not in remaining  # least recently used went first
    assert keys[0] in remaining
    assert limited.size_bytes() <= int(2.5 * one)
    limited.clear()
    assert limited.files() == []


def test_stale_temp_files_are_swept(tmp_path):
    (tmp_path / "ab").mkdir()
    stale = tmp_path / "ab" / ".abcdef.x.tmp"
    fresh = tmp_path / "ab" / ".abcdef.y.tmp"
    stale.write_bytes(b"x")
    fresh.write_bytes(b"y")
    os.utime(stale, (0, 0))
    SaliencyCache(tmp_path)
    assert not stale.exists() and fresh.exists()  # a fresh one may belong to a write in progress
