"""`vocoder` decoder (Vocos-style): ConvNeXt backbone at the frame rate and an inverse-STFT head."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from codec.models.interfaces import CodecShape
from codec.nn.convnext import ConvNeXtStack
from codec.nn.stft import ISTFTHead, check_frame_fft, istft_lookahead
from codec.schema import bounded


@dataclass
class VocoderDecoderConfig:
    """`num_layers` ConvNeXt blocks (width `dim`, MLP `intermediate_dim`), iSTFT with window `n_fft` >= frame_size."""

    kind: Literal["vocoder"] = "vocoder"
    dim: int = bounded(384, 1, 8192)
    intermediate_dim: int = bounded(1152, 1, 32768)
    num_layers: int = bounded(8, 0, 128)
    n_fft: int = bounded(1280, 2, 65536)

    def validate(self, shape: CodecShape, where: str = "decoder") -> None:
        """Raise ValueError when this config does not fit `shape`."""
        check_frame_fft(self.n_fft, shape.frame_size, f"{where}.n_fft")

    def lookahead(self, shape: CodecShape) -> int:
        """Streaming output delay in samples (the causal iSTFT head's n_fft - hop)."""
        return istft_lookahead(self.n_fft, shape.frame_size)


class VocoderDecoder(nn.Module):
    """Vocos-style vocoder: ConvNeXt backbone at the frame rate and an inverse-STFT head."""

    def __init__(self, cfg: VocoderDecoderConfig, shape: CodecShape) -> None:
        super().__init__()
        self.cfg, self.shape = cfg, shape
        self.backbone = ConvNeXtStack(shape.latent_dim, cfg.dim, cfg.intermediate_dim, cfg.num_layers, shape.causal)
        self.head = ISTFTHead(cfg.dim, cfg.n_fft, shape.frame_size, shape.causal)

    def forward(self, latent: torch.Tensor, frame_lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Latent [B, latent_dim, F] -> audio [B, 1, F * frame_size]."""
        return self.head(self.backbone(latent, frame_lengths), frame_lengths)

    @property
    def lookahead(self) -> int:
        """Streaming output delay in samples."""
        return self.cfg.lookahead(self.shape)

    def flush(self) -> torch.Tensor:
        """End of a stream: the last `lookahead` output samples [B, 1, lookahead]."""
        return self.head.flush()
