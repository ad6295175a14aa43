"""`frame` encoder: power-compressed complex STFT at the frame rate -> ConvNeXt blocks -> latent."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from codec.models.interfaces import CodecShape
from codec.nn.convnext import ConvNeXtStack
from codec.nn.masks import apply_mask
from codec.nn.stft import FrameSTFT, check_frame_fft
from codec.schema import bounded


@dataclass
class FrameEncoderConfig:
    """STFT analysis window `n_fft` (>= frame_size), then `num_layers` ConvNeXt blocks of width `dim`."""

    kind: Literal["frame"] = "frame"
    dim: int = bounded(384, 1, 8192)
    num_layers: int = bounded(6, 0, 128)
    n_fft: int = bounded(1280, 2, 65536)

    def validate(self, shape: CodecShape, where: str = "encoder") -> None:
        """Raise ValueError when this config does not fit `shape`."""
        check_frame_fft(self.n_fft, shape.frame_size, f"{where}.n_fft")


class FrameEncoder(nn.Module):
    """Power-compressed complex STFT at the frame rate -> ConvNeXt blocks -> latent projection."""

    def __init__(self, cfg: FrameEncoderConfig, shape: CodecShape) -> None:
        super().__init__()
        self.cfg, self.shape = cfg, shape
        self.stft = FrameSTFT(cfg.n_fft, shape.frame_size, shape.causal)
        bins = cfg.n_fft // 2 + 1
        self.backbone = ConvNeXtStack(2 * bins, cfg.dim, 3 * cfg.dim, cfg.num_layers, shape.causal, input_kernel=1)
        self.proj = nn.Conv1d(cfg.dim, shape.latent_dim, 1)

    def forward(self, audio: torch.Tensor, frame_lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Audio [B, 1, F * frame_size] -> latent [B, latent_dim, F]."""
        spec = self.stft(audio)
        spec = spec * (spec.abs() + 1e-5).pow(-0.7)  # magnitude ** 0.3 with the phase kept
        x = torch.cat([spec.real, spec.imag], dim=1)
        return apply_mask(self.proj(self.backbone(x, frame_lengths)), frame_lengths)
