"""Shared pieces of the discriminators: the output record and weight-normalised convolutions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

LEAKY_SLOPE = 0.1


@dataclass
class DiscriminatorOutput:
    """One sub-discriminator's result: logit map and intermediate feature maps (for feature matching)."""

    logits: torch.Tensor
    features: list[torch.Tensor] = field(default_factory=list)


def split_outputs(outputs: Sequence[DiscriminatorOutput]) -> tuple[list[torch.Tensor], list[list[torch.Tensor]]]:
    """Split discriminator outputs into (list of logits, list of feature-map lists) for the loss functions."""
    return [out.logits for out in outputs], [out.features for out in outputs]


def wn_conv2d(
    in_channels: int,
    out_channels: int,
    kernel_size: tuple[int, int],
    stride: tuple[int, int] = (1, 1),
    padding: tuple[int, int] = (0, 0),
) -> nn.Module:
    """Conv2d wrapped in weight normalisation."""
    return weight_norm(nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding))


def as_mono_batch(wav: torch.Tensor) -> torch.Tensor:
    """Return a [B, 1, T] view of a [B, T] or [B, 1, T] waveform."""
    if wav.dim() == 2:
        wav = wav.unsqueeze(1)
    if wav.dim() != 3 or wav.shape[1] != 1:
        raise ValueError(f"expected audio shaped [B, 1, T] or [B, T], got shape {tuple(wav.shape)}")
    return wav
