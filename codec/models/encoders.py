"""Encoders: audio [B, 1, F*hop] -> latent frames [B, latent_dim, F]."""

from __future__ import annotations

import torch
from torch import nn

from codec.config import CodecConfig
from codec.nn.conv import Conv1d, ResidualUnit, activation, apply_mask
from codec.nn.convnext import ConvNeXtStack
from codec.nn.stft import FrameSTFT


class FrameEncoder(nn.Module):
    """Power-compressed complex STFT at the frame rate -> ConvNeXt blocks -> latent projection."""

    def __init__(self, cfg: CodecConfig) -> None:
        super().__init__()
        enc = cfg.encoder
        self.stft = FrameSTFT(enc.n_fft, cfg.frame_size, cfg.causal)
        bins = enc.n_fft // 2 + 1
        self.backbone = ConvNeXtStack(2 * bins, enc.dim, 3 * enc.dim, enc.num_layers, cfg.causal, input_kernel=1)
        self.proj = nn.Conv1d(enc.dim, cfg.latent_dim, 1)

    def forward(self, audio: torch.Tensor, frame_lengths: torch.Tensor | None = None) -> torch.Tensor:
        spec = self.stft(audio)
        spec = spec * (spec.abs() + 1e-5).pow(-0.7)  # magnitude ** 0.3 with the phase kept
        x = torch.cat([spec.real, spec.imag], dim=1)
        return apply_mask(self.proj(self.backbone(x, frame_lengths)), frame_lengths)


class ConvEncoder(nn.Module):
    """Time-domain SEANet/DAC-style encoder: residual units and strided convs, channels doubling per stage."""

    def __init__(self, cfg: CodecConfig) -> None:
        super().__init__()
        enc, causal = cfg.encoder, cfg.causal
        self.strides = enc.strides
        self.frame_size = cfg.frame_size
        ch = enc.channels
        self.stem = Conv1d(1, ch, 7, causal=causal)
        self.stages = nn.ModuleList()
        for stride in enc.strides:
            units = [ResidualUnit(ch, d, enc.activation, causal) for d in enc.residual_dilations]
            down = nn.Sequential(activation(enc.activation, ch), Conv1d(ch, 2 * ch, 2 * stride, stride, causal=causal))
            self.stages.append(nn.ModuleList([*units, down]))
            ch *= 2
        self.head = nn.Sequential(activation(enc.activation, ch), Conv1d(ch, cfg.latent_dim, 3, causal=causal))

    def forward(self, audio: torch.Tensor, frame_lengths: torch.Tensor | None = None) -> torch.Tensor:
        hop = self.frame_size
        lengths = None if frame_lengths is None else frame_lengths * hop
        x = apply_mask(self.stem(audio), lengths)
        for stride, stage in zip(self.strides, self.stages):
            for unit in stage[:-1]:
                x = apply_mask(unit(x), lengths)
            hop //= stride
            lengths = None if frame_lengths is None else frame_lengths * hop
            x = apply_mask(stage[-1](x), lengths)
        return apply_mask(self.head(x), frame_lengths)


def build_encoder(cfg: CodecConfig) -> nn.Module:
    """The encoder named by `cfg.encoder.kind`."""
    return FrameEncoder(cfg) if cfg.encoder.kind == "frame" else ConvEncoder(cfg)
