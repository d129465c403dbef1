"""On-disk cache of saliency maps.

Why: SmoothGrad costs tens of forward+backward passes per image; the GUI
revisits images and the batch jobs rerun with the same model. A map is stored
once per (image pixels, model weights + preprocessing, method, target,
result-defining parameters) and read back in milliseconds.

Files are ``<root>/<key[:2]>/<key>.npz`` written to a temporary file and moved
into place with ``os.replace``, so a crash never leaves half a file under the
final name; a file that cannot be read is treated as a miss and rewritten.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from galaxyscope.images.galaxy_image import GalaxyImage
from galaxyscope.model.loaded import LoadedModel
from galaxyscope.paths import saliency_cache_dir
from galaxyscope.progress import CancelCheck, Progress
from galaxyscope.saliency.attributions import (
    DEFAULT_METHOD,
    SaliencyResult,
    TargetScore,
    compute_saliency,
    resolve_request,
)

CACHE_FORMAT = 1
_READ_ERRORS = (OSError, ValueError, KeyError, EOFError, TypeError, zipfile.BadZipFile, zlib.error)
_STALE_TEMP_S = 3600.0


def default_cache_root() -> Path:
    """``$GALAXYSCOPE_CACHE/saliency`` if set, else ``$XDG_CACHE_HOME/galaxyscope/saliency``
    (``~/.cache/galaxyscope/saliency`` when XDG_CACHE_HOME is unset); see `galaxyscope.paths`."""
    return saliency_cache_dir()


def image_fingerprint(image: GalaxyImage) -> str:
    """sha256 of the pixel values (shape and dtype included); ids and paths do not count."""
    px = np.ascontiguousarray(image.pixels, dtype=np.float32)
    h = hashlib.sha256(f"{px.shape}|float32|".encode())
    h.update(px.tobytes())
    return h.hexdigest()


def model_fingerprint(model: LoadedModel) -> str:
    """``model.sha256`` when the loader set it, else a hash of the weights themselves."""
    if model.sha256:
        return model.sha256
    h = hashlib.sha256(model.meta.architecture.encode())
    for name, t in sorted(model.net.state_dict().items()):
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def canonical_json(obj: Any) -> str:
    """Sorted keys, no spaces: equal requests give equal text, hence equal keys."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


class SaliencyCache:
    """Saliency maps on disk, keyed by image, model, method, target and parameters.

    dtype: "float32" (default) or "float16" for the stored maps. float16 halves
        the files but resolves only ~5e-4 near 1.0, coarser than the paper's
        1e-4 threshold step, so keep float32 for maps that will be measured.
    max_bytes: if set, the least recently used files are removed after a write
        until the cache fits (a hit counts as a use).
    """

    def __init__(self, root: str | Path | None = None, *, dtype: str = "float32",
                 max_bytes: int | None = None) -> None:
        if dtype not in ("float32", "float16"):
            raise ValueError(f"dtype must be 'float32' or 'float16', got {dtype!r}")
        self.root = Path(root) if root is not None else default_cache_root()
        self.dtype = np.dtype(dtype)
        self.max_bytes = max_bytes
        self.root.mkdir(parents=True, exist_ok=True)
        self._remove_stale_temps()

    # ------------------------------------------------------------------ keys

    def key(self, model: LoadedModel, image: GalaxyImage, method: str = "smoothgrad", *,
            target: str | int | None = None, **params: Any) -> str:
        """sha256 of the canonical JSON of everything that defines the map."""
        req = resolve_request(model, method, target=target, **params)
        desc = {
            "format": CACHE_FORMAT,
            "image": image_fingerprint(image),
            "model": model_fingerprint(model),
            "preprocessing": model.preprocessing.to_dict(),
            "method": req.method,
            "target": req.target_name,
            "params": req.key_params(),
        }
        return hashlib.sha256(canonical_json(desc).encode()).hexdigest()

    def path_for(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.npz"

    # ------------------------------------------------------------------ read / write

    def get(self, key: str) -> SaliencyResult | None:
        """The stored result, or None when absent or unreadable (an unreadable file is deleted)."""
        path = self.path_for(key)
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as z:
                full = np.asarray(z["map"], dtype=np.float32)
                model_map = np.asarray(z["model_map"], dtype=np.float32)
                info = json.loads(str(z["info"][()]))
            if info.get("key") != key or full.ndim != 2 or model_map.ndim != 2:
                raise ValueError("cache file does not match its key")
            score = TargetScore(logit=float(info["score"]["logit"]), probability=info["score"]["probability"])
            result = SaliencyResult(
                map=full, model_map=model_map, method=info["method"], target=info["target"],
                params=dict(info["params"]), score=score, elapsed_s=float(info["elapsed_s"]),
                from_cache=True, device=str(info.get("device", "cpu")),
            )
        except _READ_ERRORS:
            path.unlink(missing_ok=True)
            return None
        try:
            os.utime(path)  # mark as recently used for eviction
        except OSError:
            pass
        return result

    def put(self, key: str, result: SaliencyResult) -> Path:
        """Write atomically (temp file in the same folder, fsync, os.replace)."""
        path = self.path_for(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        info = {
            "key": key, "method": result.method, "target": result.target, "params": result.params,
            "score": {"logit": result.score.logit, "probability": result.score.probability},
            "elapsed_s": result.elapsed_s, "device": result.device, "format": CACHE_FORMAT,
        }
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{key[:12]}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez_compressed(
                    f, map=result.map.astype(self.dtype), model_map=result.model_map.astype(self.dtype),
                    info=np.array(canonical_json(info)),
                )
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        if self.max_bytes is not None:
            self.evict(self.max_bytes, keep=path)
        return path

    def get_or_compute(self, model: LoadedModel, image: GalaxyImage, method: str = DEFAULT_METHOD, *,
                       target: str | int | None = None, progress: Progress | None = None,
                       cancel: CancelCheck | None = None, **params: Any) -> SaliencyResult:
        """The cached map if there is one for exactly this request, else compute, store and return it.

        A miss returns the maps as stored (so float16 storage gives the same
        values on the first call as on later hits).
        """
        key = self.key(model, image, method, target=target, **params)
        hit = self.get(key)
        if hit is not None and hit.map.shape == (image.height, image.width):
            return hit
        result = compute_saliency(model, image, method, target=target, progress=progress, cancel=cancel, **params)
        result.map = result.map.astype(self.dtype).astype(np.float32)
        result.model_map = result.model_map.astype(self.dtype).astype(np.float32)
        self.put(key, result)
        return result

    # ------------------------------------------------------------------ housekeeping

    def files(self) -> list[Path]:
        return sorted(self.root.glob("*/*.npz"))

    def size_bytes(self) -> int:
        return sum(_size(p) for p in self.files())

    def evict(self, max_bytes: int, *, keep: Path | None = None) -> int:
        """Delete least recently used files until the total is <= max_bytes; returns how many."""
        entries = []
        for p in self.files():
            try:
                st = p.stat()
            except OSError:
                continue
            entries.append((st.st_mtime, st.st_size, p))
        total = sum(e[1] for e in entries)
        removed = 0
        for _, size, p in sorted(entries, key=lambda e: e[0]):
            if total <= max_bytes:
                break
            if keep is not None and p == keep:
                continue
            p.unlink(missing_ok=True)
            total -= size
            removed += 1
        return removed

    def clear(self) -> None:
        """Remove every cached map (and leftover temporary files)."""
        for p in list(self.root.glob("*/*.npz")) + list(self.root.glob("*/.*.tmp")):
            p.unlink(missing_ok=True)

    def _remove_stale_temps(self) -> None:
        """Temp files older than an hour are leftovers of a crashed write."""
        now = time.time()
        for p in self.root.glob("*/.*.tmp"):
            try:
                if now - p.stat().st_mtime > _STALE_TEMP_S:
                    p.unlink(missing_ok=True)
            except OSError:
                pass


def _size(p: Path) -> int:
    try:
        return p.stat().st_size
    except OSError:
        return 0
