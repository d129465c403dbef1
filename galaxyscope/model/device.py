"""Which torch device to compute on: one rule for training, saliency and the GUI."""

from __future__ import annotations

import torch

from galaxyscope.errors import GalaxyscopeError


class DeviceUnavailableError(GalaxyscopeError):
    """The user asked for a device this machine does not have."""


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def pick_device(prefer: str | torch.device | None = None) -> torch.device:
    """The device to use: ``prefer`` if given, else CUDA, then Apple MPS, then CPU.

    Why one function: every layer must agree, and an explicit request that
    cannot be met is an error the user sees (not a silent fall-back to a CPU
    run that takes hours). ``prefer`` may be "auto"/None, "cpu", "cuda",
    "cuda:1", "mps" or a ``torch.device``.
    """
    if prefer is None or (isinstance(prefer, str) and prefer.strip().lower() in ("", "auto")):
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(prefer.strip().lower() if isinstance(prefer, str) else prefer)
    except (RuntimeError, TypeError) as exc:
        raise DeviceUnavailableError(f"unknown device {prefer!r} (use cpu, cuda, cuda:N or mps)") from exc
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceUnavailableError("device 'cuda' requested but CUDA is not available here")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise DeviceUnavailableError(
                f"device {dev} requested but only {torch.cuda.device_count()} CUDA device(s) exist")
    elif dev.type == "mps":
        if not _mps_available():
            raise DeviceUnavailableError("device 'mps' requested but Apple MPS is not available here")
    elif dev.type != "cpu":
        raise DeviceUnavailableError(f"unsupported device {prefer!r} (use cpu, cuda, cuda:N or mps)")
    return dev
