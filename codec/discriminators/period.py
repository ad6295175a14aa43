"""Multi-period discriminator: the waveform folded into [T / p, p] grids, scored by 2-D convolutions."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from codec.discriminators.base import LEAKY_SLOPE, DiscriminatorOutput, as_mono_batch, wn_conv2d


class PeriodDiscriminator(nn.Module):
    """Folds [B, 1, T] audio by `period` and applies strided (k, 1) convolutions along the folded time axis.

    Channels grow as `channels * channel_mult**i` (capped at `max_channels`) over `num_layers` strided
    layers, followed by one unstrided layer and a 1-channel output convolution.
    """

    def __init__(
        self,
        period: int,
        channels: int = 32,
        channel_mult: int = 4,
        max_channels: int = 1024,
        num_layers: int = 4,
        kernel_size: int = 5,
        stride: int = 3,
    ) -> None:
        super().__init__()
        if period < 1:
            raise ValueError(f"period must be >= 1, got {period}")
        self.period = period
        pad = (kernel_size - 1) // 2
        widths = [min(channels * channel_mult**i, max_channels) for i in range(num_layers)]
        layers: list[nn.Module] = []
        in_ch = 1
        for width in widths:
            layers.append(wn_conv2d(in_ch, width, (kernel_size, 1), (stride, 1), (pad, 0)))
            in_ch = width
        layers.append(wn_conv2d(in_ch, in_ch, (kernel_size, 1), (1, 1), (pad, 0)))
        self.convs = nn.ModuleList(layers)
        self.post = wn_conv2d(in_ch, 1, (3, 1), (1, 1), (1, 0))

    def fold(self, wav: torch.Tensor) -> torch.Tensor:
        """Pad [B, 1, T] to a multiple of the period (reflect where possible) and fold to [B, 1, T', period]."""
        batch, _, length = wav.shape
        n_pad = (self.period - length % self.period) % self.period
        if n_pad:
            mode = "reflect" if length > n_pad else "constant"
            wav = F.pad(wav, (0, n_pad), mode=mode)
        return wav.view(batch, 1, -1, self.period)

    def forward(self, wav: torch.Tensor) -> DiscriminatorOutput:
        """Score audio [B, 1, T]; logits are [B, 1, T'', period]."""
        x = self.fold(as_mono_batch(wav))
        features = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), LEAKY_SLOPE)
            features.append(x)
        return DiscriminatorOutput(logits=self.post(x), features=features)


class MultiPeriodDiscriminator(nn.Module):
    """One `PeriodDiscriminator` per period."""

    def __init__(self, periods: Sequence[int] = (2, 3, 5, 7, 11), channels: int = 32, max_channels: int = 1024) -> None:
        super().__init__()
        self.periods = tuple(periods)
        self.discriminators = nn.ModuleList(
            PeriodDiscriminator(p, channels=channels, max_channels=max_channels) for p in self.periods
        )

    def forward(self, wav: torch.Tensor) -> list[DiscriminatorOutput]:
        """Outputs of every period discriminator, in `periods` order."""
        return [disc(wav) for disc in self.discriminators]
