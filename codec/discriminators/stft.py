"""Multi-resolution complex STFT discriminator with optional frequency-band splitting.

Each resolution takes the complex STFT as a 2-channel (real, imag) image [B, 2, frames, bins]. With
bands, the bin axis is cut into fractional ranges that get their own convolution stacks (so high and low
frequencies are judged by separate filters); the band outputs are concatenated along frequency and
scored by a shared output convolution.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from codec.discriminators.base import LEAKY_SLOPE, DiscriminatorOutput, as_mono_batch, wn_conv2d

Band = tuple[float, float]
DEFAULT_BANDS: tuple[Band, ...] = ((0.0, 0.1), (0.1, 0.25), (0.25, 0.5), (0.5, 0.75), (0.75, 1.0))


def band_edges(num_bins: int, bands: Sequence[Band]) -> list[tuple[int, int]]:
    """Integer [start, stop) bin ranges for fractional `bands` of `num_bins` bins."""
    edges = []
    for low, high in bands:
        if not 0.0 <= low < high <= 1.0:
            raise ValueError(f"invalid band ({low}, {high}); need 0 <= low < high <= 1")
        start, stop = int(low * num_bins), int(high * num_bins)
        if stop <= start:
            raise ValueError(f"band ({low}, {high}) is empty for {num_bins} bins")
        edges.append((start, stop))
    return edges


def _band_stack(channels: int, num_strided: int) -> nn.ModuleList:
    """Conv stack for one band: input conv, `num_strided` frequency-strided convs, then a 3x3 conv."""
    layers = [wn_conv2d(2, channels, (3, 9), (1, 1), (1, 4))]
    layers += [wn_conv2d(channels, channels, (3, 9), (1, 2), (1, 4)) for _ in range(num_strided)]
    layers.append(wn_conv2d(channels, channels, (3, 3), (1, 1), (1, 1)))
    return nn.ModuleList(layers)


class STFTDiscriminator(nn.Module):
    """Complex-STFT discriminator at one window length (Hann window, hop = window * hop_factor)."""

    window: torch.Tensor

    def __init__(
        self,
        window_length: int,
        channels: int = 32,
        hop_factor: float = 0.25,
        bands: Sequence[Band] | None = DEFAULT_BANDS,
        num_strided: int = 3,
    ) -> None:
        super().__init__()
        self.window_length = window_length
        self.hop_length = max(1, int(window_length * hop_factor))
        num_bins = window_length // 2 + 1
        self.bands = band_edges(num_bins, bands if bands else ((0.0, 1.0),))
        self.stacks = nn.ModuleList(_band_stack(channels, num_strided) for _ in self.bands)
        self.post = wn_conv2d(channels, 1, (3, 3), (1, 1), (1, 1))
        self.register_buffer("window", torch.hann_window(window_length), persistent=False)

    def spectrogram(self, wav: torch.Tensor) -> torch.Tensor:
        """Normalised complex STFT of [B, 1, T] as a real tensor [B, 2, frames, bins]."""
        wav = as_mono_batch(wav)[:, 0].float()
        spec = torch.stft(
            wav,
            n_fft=self.window_length,
            hop_length=self.hop_length,
            window=self.window,
            center=True,
            pad_mode="constant",
            normalized=True,
            return_complex=True,
        )  # [B, bins, frames]
        return torch.view_as_real(spec).permute(0, 3, 2, 1)

    def forward(self, wav: torch.Tensor) -> DiscriminatorOutput:
        """Score audio [B, 1, T]; logits are [B, 1, frames, reduced bins]."""
        spec = self.spectrogram(wav)
        features: list[torch.Tensor] = []
        band_outputs = []
        for (start, stop), stack in zip(self.bands, self.stacks):
            x = spec[..., start:stop]
            for conv in stack.children():  # the band's ModuleList, in order
                x = F.leaky_relu(conv(x), LEAKY_SLOPE)
                features.append(x)
            band_outputs.append(x)
        logits = self.post(torch.cat(band_outputs, dim=-1))
        return DiscriminatorOutput(logits=logits, features=features)


class MultiResolutionSTFTDiscriminator(nn.Module):
    """One `STFTDiscriminator` per window length."""

    def __init__(
        self,
        window_lengths: Sequence[int] = (2048, 1024, 512),
        channels: int = 32,
        hop_factor: float = 0.25,
        bands: Sequence[Band] | None = DEFAULT_BANDS,
    ) -> None:
        super().__init__()
        self.window_lengths = tuple(window_lengths)
        self.discriminators = nn.ModuleList(
            STFTDiscriminator(w, channels=channels, hop_factor=hop_factor, bands=bands) for w in self.window_lengths
        )

    def forward(self, wav: torch.Tensor) -> list[DiscriminatorOutput]:
        """Outputs of every resolution, in `window_lengths` order."""
        return [disc(wav) for disc in self.discriminators]
