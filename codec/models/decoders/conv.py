"""`conv` decoder: time-domain transposed convs with residual units, then tanh (mirrors the conv encoder)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast

import torch
from torch import nn

from codec.models.encoders.conv import Activation, check_strides
from codec.models.interfaces import CodecShape
from codec.nn.conv import Conv1d, ConvTranspose1d, ResidualUnit, activation
from codec.nn.masks import apply_mask
from codec.schema import bounded


@dataclass
class ConvDecoderConfig:
    """One upsampling stage per stride (they multiply to frame_size); channels halve per stage from `channels`."""

    kind: Literal["conv"] = "conv"
    channels: int = bounded(512, 1, 65536)
    strides: tuple[int, ...] = bounded((8, 5, 4, 2), 1, 1024)
    residual_dilations: tuple[int, ...] = bounded((1, 3, 9), 1, 1024)
    activation: Activation = "snake"

    def validate(self, shape: CodecShape, where: str = "decoder") -> None:
        """Raise ValueError when this config does not fit `shape`."""
        check_strides(self.strides, shape.frame_size, f"{where}.strides")
        if self.channels < 2 ** len(self.strides):
            raise ValueError(f"{where}.channels: {self.channels} halves to zero over {len(self.strides)} stages")

    def lookahead(self, shape: CodecShape) -> int:
        """Streaming output delay in samples: none (causal transposed convs only reach back)."""
        return 0


class ConvDecoder(nn.Module):
    """Time-domain decoder: transposed convs with residual units, then tanh."""

    def __init__(self, cfg: ConvDecoderConfig, shape: CodecShape) -> None:
        super().__init__()
        self.cfg, self.shape = cfg, shape
        causal = shape.causal
        self.strides = tuple(cfg.strides)
        ch = cfg.channels
        self.stem = Conv1d(shape.latent_dim, ch, 7, causal=causal)
        self.stages = nn.ModuleList()
        for stride in self.strides:
            up = nn.Sequential(activation(cfg.activation, ch), ConvTranspose1d(ch, ch // 2, stride, causal=causal))
            ch //= 2
            units = [ResidualUnit(ch, d, cfg.activation, causal) for d in cfg.residual_dilations]
            self.stages.append(nn.ModuleList([up, *units]))
        self.head = nn.Sequential(activation(cfg.activation, ch), Conv1d(ch, 1, 7, causal=causal), nn.Tanh())

    def forward(self, latent: torch.Tensor, frame_lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Latent [B, latent_dim, F] -> audio [B, 1, F * frame_size]."""
        lengths, scale = frame_lengths, 1
        x = apply_mask(self.stem(apply_mask(latent, lengths)), lengths)
        for stride, stage in zip(self.strides, self.stages):
            scale *= stride
            lengths = None if frame_lengths is None else frame_lengths * scale
            for layer in cast(nn.ModuleList, stage):
                x = apply_mask(layer(x), lengths)
        return apply_mask(self.head(x), lengths)

    @property
    def lookahead(self) -> int:
        """Streaming output delay in samples."""
        return self.cfg.lookahead(self.shape)

    def flush(self) -> torch.Tensor:
        """End of a stream: nothing is held back, [B, 1, 0]."""
        state = self.stem.streaming_state
        batch = 1 if state is None else state.previous.shape[0]
        return torch.zeros(batch, 1, 0, device=self.stem.state_device())
