"""Lengths -> masks: the one helper that says which positions of a padded batch are valid."""

from __future__ import annotations

import torch


def length_mask(lengths: torch.Tensor, size: int) -> torch.Tensor:
    """Bool [B, size]: True where the position is below the item's length."""
    return torch.arange(size, device=lengths.device)[None, :] < lengths[:, None]


def apply_mask(x: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
    """Zero `x` [B, C, N] past each item's length so padding never leaks into valid positions."""
    if lengths is None:
        return x
    return x * length_mask(lengths, x.shape[-1])[:, None, :].to(x.dtype)
