"""ConvNeXt blocks at the frame rate (as in Vocos), masked so padding never leaks."""

from __future__ import annotations

import torch
from torch import nn

from codec.nn.conv import apply_mask


class ConvNeXtBlock(nn.Module):
    """Depthwise conv 7 -> LayerNorm -> MLP -> layer scale, residual; causal pads on the left only."""

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
        y = self.dwconv(nn.functional.pad(x, self.padding)).transpose(1, 2)
        y = self.pwconv2(self.act(self.pwconv1(self.norm(y))))
        return x + (self.gamma * y).transpose(1, 2)


class ConvNeXtStack(nn.Module):
    """Input conv -> LayerNorm -> N ConvNeXt blocks -> LayerNorm, masked after every block."""

    def __init__(self, cin: int, dim: int, intermediate_dim: int, num_layers: int, causal: bool,
                 input_kernel: int = 7) -> None:
        super().__init__()
        self.embed = nn.Conv1d(cin, dim, input_kernel)
        self.embed_padding = (input_kernel - 1, 0) if causal else ((input_kernel - 1) // 2, input_kernel // 2)
        self.norm_in = nn.LayerNorm(dim, eps=1e-6)
        self.blocks = nn.ModuleList(ConvNeXtBlock(dim, intermediate_dim, causal) for _ in range(num_layers))
        self.norm_out = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """[B, cin, F] -> [B, dim, F]."""
        x = self.embed(nn.functional.pad(apply_mask(x, lengths), self.embed_padding))
        x = apply_mask(self.norm_in(x.transpose(1, 2)).transpose(1, 2), lengths)
        for block in self.blocks:
            x = apply_mask(block(x), lengths)
        return apply_mask(self.norm_out(x.transpose(1, 2)).transpose(1, 2), lengths)
