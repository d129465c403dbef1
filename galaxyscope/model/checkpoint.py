"""Saving and loading models without ever unpickling.

A checkpoint is a ``.safetensors`` file: the weights, plus the model's
metadata (``ModelMeta.to_dict()`` as JSON) inside the safetensors header
(``__metadata__["galaxyscope_meta"]``), so one file is the whole model. A
sidecar ``MODEL.safetensors.json`` repeats the metadata for people to read.

Loading accepts safetensors (by content, whatever the suffix), or a ``.pt`` /
``.pth`` plain state dict read with ``torch.load(weights_only=True)`` plus its
sidecar JSON. Anything else - in particular a pickle - is refused before a
single byte of it is executed: pickles can run arbitrary code on load.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import struct
import tempfile
import warnings
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from galaxyscope import __version__
from galaxyscope.errors import GalaxyscopeError, ModelLoadError
from galaxyscope.model.device import pick_device
from galaxyscope.model.loaded import LoadedModel, ModelMeta
from galaxyscope.model.networks import build_network

META_KEY = "galaxyscope_meta"
TORCH_SUFFIXES = (".pt", ".pth")
_MAX_HEADER = 100 * 1024 * 1024  # safetensors' own limit on the JSON header


def sidecar_path(path: str | Path) -> Path:
    """``model.safetensors`` -> ``model.safetensors.json`` (the human-readable copy)."""
    path = Path(path)
    return path.with_name(path.name + ".json")


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file: the model's identity in caches and stored measurements."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _jsonable(value: Any) -> Any:
    """Plain-JSON copy: NaN/inf become null, tuples lists, numpy scalars Python numbers."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 1) == 0:
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _atomic_write(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        # mkstemp makes the file private (0600); a checkpoint is an ordinary shareable file
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_checkpoint(model: LoadedModel | tuple[torch.nn.Module, ModelMeta], path: str | Path) -> str:
    """Write weights + metadata to ``path`` (.safetensors) and its JSON sidecar.

    Why safetensors: loading it can't execute code, and the header carries the
    preprocessing and output names, so a model file can't be used with the
    wrong input. Returns the sha256 of the written file; a ``LoadedModel``
    passed in gets its ``sha256`` and ``path`` updated.
    """
    path = Path(path)
    if path.suffix != ".safetensors":
        raise GalaxyscopeError(f"{path}: checkpoints are written as .safetensors (got suffix {path.suffix!r})")
    if not path.parent.is_dir():
        raise GalaxyscopeError(f"{path}: folder {path.parent} does not exist")
    net, meta = (model.net, model.meta) if isinstance(model, LoadedModel) else model
    meta_dict = _jsonable(meta.to_dict())
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in net.state_dict().items()}
    header = {META_KEY: json.dumps(meta_dict, sort_keys=True), "format": "pt",
              "galaxyscope_version": __version__}
    _atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=header))
    digest = file_sha256(path)
    sidecar = {"galaxyscope_checkpoint": 1, "weights": path.name, "sha256": digest,
               "galaxyscope_version": __version__, "meta": meta_dict}
    _atomic_write(sidecar_path(path),
                  lambda tmp: Path(tmp).write_text(json.dumps(sidecar, indent=2, sort_keys=True) + "\n"))
    if isinstance(model, LoadedModel):
        model.sha256 = digest
        model.path = str(path)
    return digest


def carry_bar_evidence(base: LoadedModel, model: LoadedModel, out: str | Path) -> str | None:
    """Let ``model`` (trained from ``base``, to be saved at ``out``) name ``base``'s bar-evidence
    companion, copying it (and its sidecar) beside ``out`` when it is not there yet.

    Why: the companion depends only on how the galaxy is framed, not on the classifier's
    weights, so a fine-tuned version keeps the ``bar_evidence`` attribution. Nothing is carried
    when the preprocessing differs, ``base`` has no companion file, or another file of that name
    is already beside ``out``. Returns the companion's file name, or None.
    """
    name = base.meta.bar_evidence
    if not name or not base.path or model.preprocessing != base.preprocessing:
        return None
    src = Path(base.path).parent / name
    dst = Path(out).parent / name
    if not src.is_file():
        return None
    if dst.exists():
        if dst.resolve() != src.resolve() and file_sha256(dst) != file_sha256(src):
            return None
    else:
        for a, b in ((src, dst), (sidecar_path(src), sidecar_path(dst))):
            if a.exists():
                _atomic_write(b, lambda tmp, a=a: shutil.copyfile(a, tmp))
    model.meta.bar_evidence = name
    return name


def _sniff(path: Path) -> str:
    """'safetensors', 'zip' (torch.save), 'pickle' or 'unknown', from the first bytes."""
    with open(path, "rb") as fh:
        head = fh.read(9)
    size = path.stat().st_size
    if len(head) == 9:
        (n,) = struct.unpack("<Q", head[:8])
        if 2 <= n <= min(_MAX_HEADER, size - 8) and head[8:9] == b"{":
            return "safetensors"
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if head[:1] == b"\x80" and len(head) > 1 and 2 <= head[1] <= 5:
        return "pickle"
    return "unknown"


def _read_sidecar(path: Path) -> dict[str, Any] | None:
    from galaxyscope.safe_files import not_regular_reason

    side = sidecar_path(path)
    if not side.exists():
        return None
    problem = not_regular_reason(side)
    if problem is not None:
        raise ModelLoadError(side, f"sidecar metadata {problem}")
    try:
        data = json.loads(side.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelLoadError(side, f"sidecar metadata is not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ModelLoadError(side, "sidecar metadata is not a JSON object")
    return data.get("meta", data)


def _read_safetensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any] | None]:
    try:
        with safe_open(str(path), framework="pt", device="cpu") as fh:
            header = fh.metadata() or {}
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    except Exception as exc:  # SafetensorError, OSError, ValueError for garbled headers
        raise ModelLoadError(path, f"not a readable safetensors file ({exc})") from exc
    meta = None
    if META_KEY in header:
        try:
            meta = json.loads(header[META_KEY])
        except json.JSONDecodeError as exc:
            raise ModelLoadError(path, f"metadata in the safetensors header is not valid JSON ({exc})") from exc
    return tensors, meta


def _read_torch_state_dict(path: Path) -> dict[str, torch.Tensor]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError for anything beyond plain tensors and containers
        detail = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        hint = next((ln for ln in detail if ln.startswith(("Unsupported", "Unsupported global"))), "")
        raise ModelLoadError(path, "refused: holds more than a plain state dict of tensors, and galaxyscope "
                                   "never unpickles arbitrary objects" + (f" ({hint})" if hint else "")) from exc
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                            for k, v in obj.items()):
        raise ModelLoadError(path, "not a state dict (a mapping of names to tensors)")
    return obj


#: most parameters a checkpoint's architecture may have (ResNet-18 has 11 M)
MAX_PARAMETERS = 200_000_000


def _misfit(path: Path, meta: ModelMeta, exc: RuntimeError) -> ModelLoadError:
    first = str(exc).strip().splitlines()
    return ModelLoadError(path, f"weights do not fit architecture {meta.architecture!r}: "
                                f"{' '.join(first[:3])[:300]}")


def check_network_size(path: Path, meta: ModelMeta, state: dict[str, torch.Tensor]) -> None:
    """Build the network on torch's "meta" device (shapes only, no memory) and refuse it
    when it is huge or its shapes differ from the weights in the file.

    Why: ``arch_kwargs`` come from the file; widths of 10^6 would otherwise allocate
    terabytes before anything could say that the weights do not fit.
    """
    try:
        with torch.device("meta"), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. "initializing zero-element tensors is a no-op"
            skeleton = build_network(meta.architecture, len(meta.output_names), meta.preprocessing.channels,
                                     **meta.arch_kwargs)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelLoadError(path, f"cannot build the network: {exc}") from exc
    except RuntimeError as exc:  # e.g. a zero or negative width
        raise ModelLoadError(path, f"cannot build the network from arch_kwargs {meta.arch_kwargs}: "
                                   f"{' '.join(str(exc).split())[:200]}") from exc
    n_params = sum(p.numel() for p in skeleton.parameters())
    if n_params > MAX_PARAMETERS:
        raise ModelLoadError(path, f"metadata asks for a {meta.architecture!r} network with {n_params:,} "
                                   f"parameters (arch_kwargs {meta.arch_kwargs}); at most "
                                   f"{MAX_PARAMETERS:,} are accepted")
    try:
        # assign=True: the skeleton takes the file's tensors (no copy into meta parameters, so no
        # "no-op" warning to silence: warnings.catch_warnings is not thread-safe, and two models
        # loading at once, e.g. a classifier and its companion, leaked the warning)
        skeleton.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as exc:
        raise _misfit(path, meta, exc) from exc


def load_checkpoint(path: str | Path, device: str | torch.device | None = None) -> LoadedModel:
    """Read a checkpoint into a ready ``LoadedModel`` (eval mode, on ``device``).

    Never unpickles: safetensors is read as data; ``.pt``/``.pth`` only via
    ``torch.load(weights_only=True)``; a pickle or unknown format is refused
    unread. Any problem raises ``ModelLoadError(path, reason)``.
    """
    from galaxyscope.safe_files import not_regular_reason

    path = Path(path)
    if not path.exists():
        raise ModelLoadError(path, "no such file")
    problem = not_regular_reason(path)
    if problem is not None:
        raise ModelLoadError(path, "not a file" if problem.startswith("is a directory") else problem)
    kind = _sniff(path)
    if kind == "safetensors":
        state, meta_dict = _read_safetensors(path)
        if meta_dict is None:
            meta_dict = _read_sidecar(path)
    elif path.suffix.lower() in TORCH_SUFFIXES and kind in ("zip", "pickle"):
        state = _read_torch_state_dict(path)
        meta_dict = _read_sidecar(path)
    elif kind == "pickle" or kind == "zip":
        raise ModelLoadError(path, "refused: looks like a pickled object, which could run code when loaded; "
                                   "galaxyscope only reads .safetensors (or a .pt/.pth plain state dict)")
    elif path.suffix.lower() == ".safetensors":
        raise ModelLoadError(path, "not a safetensors file (header missing or garbled)")
    else:
        raise ModelLoadError(path, "unrecognised checkpoint format (expected .safetensors)")
    if meta_dict is None:
        raise ModelLoadError(path, f"no galaxyscope metadata (neither in the header nor in {sidecar_path(path).name})")
    try:
        meta = ModelMeta.from_dict(meta_dict)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise ModelLoadError(path, f"metadata incomplete or invalid: {exc}") from exc
    check_network_size(path, meta, state)
    try:
        net = build_network(meta.architecture, len(meta.output_names), meta.preprocessing.channels,
                            **meta.arch_kwargs)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelLoadError(path, f"cannot build the network: {exc}") from exc
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise _misfit(path, meta, exc) from exc
    try:
        dev = pick_device(device)
    except GalaxyscopeError as exc:
        raise ModelLoadError(path, str(exc)) from exc
    return LoadedModel(net=net, meta=meta, device=dev, sha256=file_sha256(path), path=str(path))
