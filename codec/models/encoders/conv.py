"""`conv` encoder: time-domain SEANet/DAC-style residual units and strided convs."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, cast

import torch
from torch import nn

from codec.models.interfaces import CodecShape
from codec.nn.conv import Conv1d, ResidualUnit, activation
from codec.nn.masks import apply_mask
from codec.schema import bounded

Activation = Literal["snake", "elu"]


def check_strides(strides: tuple[int, ...], frame_size: int, where: str) -> None:
    """Raise ValueError unless the strides multiply to `frame_size`."""
    if math.prod(strides) != frame_size:
        product = math.prod(strides)
        raise ValueError(f"product of {where} {tuple(strides)} = {product} must equal frame_size {frame_size}")


@dataclass
class ConvEncoderConfig:
    """One stage per stride (the strides multiply to frame_size); channels double per stage from `channels`."""

    kind: Literal["conv"] = "conv"
    channels: int = bounded(32, 1, 4096)
    strides: tuple[int, ...] = bounded((2, 4, 5, 8), 1, 1024)
    residual_dilations: tuple[int, ...] = bounded((1, 3, 9), 1, 1024)
    activation: Activation = "snake"

    def validate(self, shape: CodecShape, where: str = "encoder") -> None:
        """Raise ValueError when this config does not fit `shape`."""
        check_strides(self.strides, shape.frame_size, f"{where}.strides")
        if self.channels * 2 ** len(self.strides) > 65536:
            raise ValueError(f"{where}.channels: {self.channels} doubled over {len(self.strides)} stages exceeds 65536")


class ConvEncoder(nn.Module):
    """Time-domain SEANet/DAC-style encoder: residual units and strided convs, channels doubling per stage."""

    def __init__(self, cfg: ConvEncoderConfig, shape: CodecShape) -> None:
        super().__init__()
        self.cfg, self.shape = cfg, shape
        causal = shape.causal
        self.strides = cfg.strides
        self.frame_size = shape.frame_size
        ch = cfg.channels
        self.stem = Conv1d(1, ch, 7, causal=causal)
        self.stages = nn.ModuleList()
        for stride in cfg.strides:
            units = [ResidualUnit(ch, d, cfg.activation, causal) for d in cfg.residual_dilations]
            down = nn.Sequential(activation(cfg.activation, ch), Conv1d(ch, 2 * ch, 2 * stride, stride, causal=causal))
            self.stages.append(nn.ModuleList([*units, down]))
            ch *= 2
        self.head = nn.Sequential(activation(cfg.activation, ch), Conv1d(ch, shape.latent_dim, 3, causal=causal))

    def forward(self, audio: torch.Tensor, frame_lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Audio [B, 1, F * frame_size] -> latent [B, latent_dim, F]."""
        hop = self.frame_size
        lengths = None if frame_lengths is None else frame_lengths * hop
        x = apply_mask(self.stem(audio), lengths)
        for stride, stage in zip(self.strides, self.stages):
            stage = cast(nn.ModuleList, stage)
            for unit in stage[:-1]:
                x = apply_mask(unit(x), lengths)
            hop //= stride
            lengths = None if frame_lengths is None else frame_lengths * hop
            x = apply_mask(stage[-1](x), lengths)
        return apply_mask(self.head(x), frame_lengths)
