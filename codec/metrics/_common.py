"""Shared audio input handling: argument types, [B, T] batching, per-item trimming, length checks."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

ArrayLike = torch.Tensor | np.ndarray
IntSequence = torch.Tensor | np.ndarray | Sequence[int]

SI_SDR_EPS = 1e-8


def _as_batch(audio: ArrayLike, name: str) -> torch.Tensor:
    """Float32 CPU-or-device tensor [B, T] from [T], [B, T] or [B, 1, T]."""
    x = torch.as_tensor(audio)
    if x.dim() == 3:
        if x.shape[1] != 1:
            raise ValueError(f"{name} must be mono [B, 1, T], got shape {tuple(x.shape)}")
        x = x[:, 0]
    elif x.dim() == 1:
        x = x[None]
    elif x.dim() != 2:
        raise ValueError(f"{name} must be [T], [B, T] or [B, 1, T], got shape {tuple(x.shape)}")
    return x.detach().float()


def _item_pairs(ref: ArrayLike, est: ArrayLike, lengths: IntSequence | None) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per-item (ref, est) 1-D tensors trimmed to their valid samples."""
    r, e = _as_batch(ref, "ref"), _as_batch(est, "est")
    if r.shape != e.shape:
        raise ValueError(f"ref and est shapes differ: {tuple(r.shape)} vs {tuple(e.shape)}")
    if lengths is None:
        valid = [r.shape[1]] * r.shape[0]
    else:
        valid = [int(n) for n in torch.as_tensor(lengths).reshape(-1).tolist()]
        if len(valid) != r.shape[0]:
            raise ValueError(f"lengths has {len(valid)} entries for a batch of {r.shape[0]}")
        if any(n < 1 or n > r.shape[1] for n in valid):
            raise ValueError(f"lengths must lie in [1, {r.shape[1]}], got {valid}")
    if r.shape[0] == 0:
        raise ValueError("empty batch")
    return [(r[b, :n], e[b, :n]) for b, n in enumerate(valid)]


def _require_samples(x: torch.Tensor, minimum: int, what: str) -> None:
    """Raise ValueError if `x` is shorter than `minimum` samples."""
    if x.shape[-1] < minimum:
        raise ValueError(f"{what} needs at least {minimum} samples, got {x.shape[-1]}")
