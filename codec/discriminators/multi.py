"""`MultiDiscriminator`: multi-period + multi-resolution STFT discriminators behind one forward."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from codec.discriminators.base import DiscriminatorOutput
from codec.discriminators.period import MultiPeriodDiscriminator
from codec.discriminators.stft import DEFAULT_BANDS, Band, MultiResolutionSTFTDiscriminator


@dataclass(frozen=True)
class DiscriminatorConfig:
    """Sizes of the combined discriminator; empty `periods` / `stft_windows` disable that family.

    channels: first-layer width of every sub-discriminator (period discriminators grow it x4 per layer
    up to `period_max_channels`; STFT discriminators keep it). stft_bands: fractional frequency bands,
    or None for no band split. crop_seconds > 0: the discriminators judge one random sub-crop of that
    length per step (same window for real and fake) instead of the whole segment: cheaper GAN steps.
    """

    periods: tuple[int, ...] = (2, 3, 5, 7, 11)
    stft_windows: tuple[int, ...] = (2048, 1024, 512)
    channels: int = 32
    period_max_channels: int = 1024
    stft_hop_factor: float = 0.25
    stft_bands: tuple[Band, ...] | None = DEFAULT_BANDS
    crop_seconds: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "periods", tuple(int(p) for p in self.periods))
        object.__setattr__(self, "stft_windows", tuple(int(w) for w in self.stft_windows))
        if self.stft_bands is not None:
            object.__setattr__(self, "stft_bands", tuple((float(lo), float(hi)) for lo, hi in self.stft_bands))
        if not self.periods and not self.stft_windows:
            raise ValueError("DiscriminatorConfig needs at least one period or STFT window")


class MultiDiscriminator(nn.Module):
    """All configured discriminators; `forward` returns one `DiscriminatorOutput` per sub-discriminator."""

    def __init__(self, config: DiscriminatorConfig | None = None) -> None:
        super().__init__()
        self.config = config or DiscriminatorConfig()
        cfg = self.config
        self.period = (
            MultiPeriodDiscriminator(cfg.periods, cfg.channels, cfg.period_max_channels) if cfg.periods else None
        )
        self.stft = (
            MultiResolutionSTFTDiscriminator(cfg.stft_windows, cfg.channels, cfg.stft_hop_factor, cfg.stft_bands)
            if cfg.stft_windows
            else None
        )

    @property
    def num_discriminators(self) -> int:
        """Number of `DiscriminatorOutput`s `forward` returns."""
        return len(self.config.periods) + len(self.config.stft_windows)

    def forward(self, wav: torch.Tensor) -> list[DiscriminatorOutput]:
        """Score audio [B, 1, T] (or [B, T]): period outputs first, then STFT outputs."""
        outputs: list[DiscriminatorOutput] = []
        if self.period is not None:
            outputs += self.period(wav)
        if self.stft is not None:
            outputs += self.stft(wav)
        return outputs
