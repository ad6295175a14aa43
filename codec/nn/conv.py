"""Convolutions that keep exact lengths, optionally causal, plus Snake and residual units."""

from __future__ import annotations

from typing import cast

import torch
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from codec.nn.streaming import PartialOverlap, PreviousInputs, StreamingModule, left_context, zeros_context


class Snake(nn.Module):
    """Periodic activation x + sin^2(a x) / a with a learnable per-channel a."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(1, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + torch.sin(self.alpha * x).pow(2) / (self.alpha + 1e-9)


def activation(name: str, channels: int) -> nn.Module:
    """`snake` or `elu`."""
    if name == "snake":
        return Snake(channels)
    if name == "elu":
        return nn.ELU()
    raise ValueError(f"activation must be 'snake' or 'elu', got {name!r}")


class Conv1d(StreamingModule):
    """Weight-normed Conv1d whose output length is exactly input_length / stride (input a multiple of stride).

    Streaming (causal only): keeps its last `padding[0]` inputs as the next chunk's left context.
    """

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel_size: int,
        stride: int = 1,
        dilation: int = 1,
        causal: bool = False,
        groups: int = 1,
    ) -> None:
        super().__init__()
        self.conv = cast(
            nn.Conv1d, weight_norm(nn.Conv1d(cin, cout, kernel_size, stride=stride, dilation=dilation, groups=groups))
        )
        total = dilation * (kernel_size - 1) + 1 - stride
        self.padding = (total, 0) if causal else (total - total // 2, total // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.streaming_state is not None:
            return self.conv(left_context(self, x, self.padding[0]))
        return self.conv(nn.functional.pad(x, self.padding))

    def init_state(self, batch_size: int) -> PreviousInputs:
        """Zero left context (as offline padding)."""
        if self.padding[1]:
            raise ValueError("only causal (left-padded) convs can stream")
        return zeros_context(self, batch_size, self.conv.in_channels, self.padding[0])


class ConvTranspose1d(StreamingModule):
    """Weight-normed transposed conv (kernel 2 * stride) whose output length is exactly input_length * stride.

    Streaming (causal only): the `stride` output samples past a chunk, which the next chunk's first
    input also reaches, are kept (without bias) and added to the next chunk's output.
    """

    def __init__(self, cin: int, cout: int, stride: int, causal: bool = False) -> None:
        super().__init__()
        self.conv = cast(nn.ConvTranspose1d, weight_norm(nn.ConvTranspose1d(cin, cout, 2 * stride, stride=stride)))
        self.trim = (0, stride) if causal else (stride - stride // 2, stride // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        state = self.streaming_state
        if state is None:
            return y[..., self.trim[0] : y.shape[-1] - self.trim[1]]
        stride, keep = self.trim[1], y.shape[-1] - self.trim[1]
        head = y[..., :stride] + state.partial
        state.partial = y[..., keep:] - cast(torch.Tensor, self.conv.bias)[None, :, None]
        return torch.cat([head, y[..., stride:keep]], dim=-1)

    def init_state(self, batch_size: int) -> PartialOverlap:
        """No overlap yet."""
        if self.trim[0]:
            raise ValueError("only causal transposed convs can stream")
        stride = self.trim[1]
        return PartialOverlap(torch.zeros(batch_size, self.conv.out_channels, stride, device=self.state_device()))


class ResidualUnit(nn.Module):
    """act -> dilated conv 7 -> act -> conv 1, added to the input."""

    def __init__(self, channels: int, dilation: int, act: str, causal: bool) -> None:
        super().__init__()
        self.block = nn.Sequential(
            activation(act, channels),
            Conv1d(channels, channels, 7, dilation=dilation, causal=causal),
            activation(act, channels),
            Conv1d(channels, channels, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)
