"""ConvNeXt blocks at the frame rate (as in Vocos), masked so padding never leaks."""

from __future__ import annotations

import torch
from torch import nn

from codec.nn.masks import apply_mask
from codec.nn.streaming import PreviousInputs, StreamingModule, left_context, zeros_context


class ConvNeXtBlock(StreamingModule):
    """Depthwise conv 7 -> LayerNorm -> MLP -> layer scale, residual; causal pads on the left only.

    Streaming (causal only): keeps its last 6 input frames as the next chunk's left context.
    """

    def __init__(self, dim: int, intermediate_dim: int, causal: bool = False, layer_scale: float = 1e-6) -> None:
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, 7, groups=dim)
        self.padding = (6, 0) if causal else (3, 3)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, intermediate_dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(intermediate_dim, dim)
        self.gamma = nn.Parameter(layer_scale * torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        padded = left_context(self, x, 6) if self.streaming_state is not None else nn.functional.pad(x, self.padding)
        y = self.dwconv(padded).transpose(1, 2)
        y = self.pwconv2(self.act(self.pwconv1(self.norm(y))))
        return x + (self.gamma * y).transpose(1, 2)

    def init_state(self, batch_size: int) -> PreviousInputs:
        """Zero left context (as offline padding)."""
        if self.padding[1]:
            raise ValueError("only causal ConvNeXt blocks can stream")
        return zeros_context(self, batch_size, self.dwconv.in_channels, self.padding[0])


class ConvNeXtStack(StreamingModule):
    """Input conv -> LayerNorm -> N ConvNeXt blocks -> LayerNorm, masked after every block.

    Streaming (causal only): the input conv keeps its last `input_kernel - 1` inputs; blocks keep their own.
    """

    def __init__(
        self, cin: int, dim: int, intermediate_dim: int, num_layers: int, causal: bool, input_kernel: int = 7
    ) -> None:
        super().__init__()
        self.embed = nn.Conv1d(cin, dim, input_kernel)
        self.embed_padding = (input_kernel - 1, 0) if causal else ((input_kernel - 1) // 2, input_kernel // 2)
        self.norm_in = nn.LayerNorm(dim, eps=1e-6)
        self.blocks = nn.ModuleList(ConvNeXtBlock(dim, intermediate_dim, causal) for _ in range(num_layers))
        self.norm_out = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """[B, cin, F] -> [B, dim, F]."""
        if self.streaming_state is not None:
            x = self.embed(left_context(self, apply_mask(x, lengths), self.embed_padding[0]))
        else:
            x = self.embed(nn.functional.pad(apply_mask(x, lengths), self.embed_padding))
        x = apply_mask(self.norm_in(x.transpose(1, 2)).transpose(1, 2), lengths)
        for block in self.blocks:
            x = apply_mask(block(x), lengths)
        return apply_mask(self.norm_out(x.transpose(1, 2)).transpose(1, 2), lengths)

    def init_state(self, batch_size: int) -> PreviousInputs:
        """Zero left context for the input conv (as offline padding)."""
        if self.embed_padding[1]:
            raise ValueError("only causal ConvNeXt stacks can stream")
        return zeros_context(self, batch_size, self.embed.in_channels, self.embed_padding[0])
