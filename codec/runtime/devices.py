"""Checking a `--device` name before anything is built on it, with a one-line error."""

from __future__ import annotations

import torch


def check_device(name: str | torch.device) -> torch.device:
    """The torch device called `name`; ValueError when it is malformed or not present on this machine."""
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"--device {name!r}: not a torch device name (e.g. cpu, cuda, cuda:1, mps)") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"--device {name}: no CUDA GPU is available here (torch.cuda.is_available() is False); use --device cpu"
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) present")
    elif device.type == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise ValueError(f"--device {name}: the Apple MPS backend is not available here; use --device cpu")
    return device
