"""`mel` encoder: log-mel frames at the frame rate -> ConvNeXt blocks -> latent.

A lighter `frame` encoder: `num_mels` log-mel bands instead of the n_fft/2+1 complex bins feed the
first layer (about 16x fewer input weights at n_fft 1280), at the price of the phase. Streams like
the frame encoder when causal (the STFT and ConvNeXt blocks keep their left context).
"""

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
class MelEncoderConfig:
    """STFT window `n_fft` (>= frame_size) -> `num_mels` log-mel bands -> `num_layers` ConvNeXt blocks (`dim` wide)."""

    kind: Literal["mel"] = "mel"
    dim: int = bounded(256, 1, 8192)
    num_layers: int = bounded(4, 0, 128)
    n_fft: int = bounded(1280, 2, 65536)
    num_mels: int = bounded(80, 1, 1024)

    def validate(self, shape: CodecShape, where: str = "encoder") -> None:
        """Raise ValueError when this config does not fit `shape`."""
        check_frame_fft(self.n_fft, shape.frame_size, f"{where}.n_fft")
        if self.num_mels > self.n_fft // 2 + 1:
            raise ValueError(f"{where}.num_mels: {self.num_mels} bands from {self.n_fft // 2 + 1} STFT bins")


class MelEncoder(nn.Module):
    """Log-mel spectrum at the frame rate -> ConvNeXt blocks -> latent projection."""

    mel_banks: torch.Tensor

    def __init__(self, cfg: MelEncoderConfig, shape: CodecShape) -> None:
        super().__init__()
        import torchaudio.functional as AF  # torchaudio takes seconds to import: only when this kind is built

        self.cfg, self.shape = cfg, shape
        self.stft = FrameSTFT(cfg.n_fft, shape.frame_size, shape.causal)
        banks = AF.melscale_fbanks(cfg.n_fft // 2 + 1, 0.0, shape.sample_rate / 2, cfg.num_mels, shape.sample_rate)
        self.register_buffer("mel_banks", banks.T.contiguous(), persistent=False)  # [num_mels, bins]
        self.backbone = ConvNeXtStack(cfg.num_mels, cfg.dim, 3 * cfg.dim, cfg.num_layers, shape.causal, input_kernel=1)
        self.proj = nn.Conv1d(cfg.dim, shape.latent_dim, 1)

    def forward(self, audio: torch.Tensor, frame_lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Audio [B, 1, F * frame_size] -> latent [B, latent_dim, F]."""
        power = self.stft(audio).abs().square()
        mel = torch.log(torch.matmul(self.mel_banks, power).clamp(min=1e-5))
        return apply_mask(self.proj(self.backbone(mel, frame_lengths)), frame_lengths)
