"""`fsq` quantizer: residual finite scalar quantization (vector-quantize-pytorch's FSQ) over K levels.

Each level projects the residual to `len(levels)` dims, rounds each dim to its own number of
`levels` (an implicit codebook of prod(levels) entries: nothing to learn, nothing to collapse)
and projects back up. Codes are int64 [B, K, F] like the RVQ's, so tokens files, layouts and
language models see no difference; `codebook_size` is prod(levels).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, cast

import torch
from torch import nn
from vector_quantize_pytorch import FSQ

from codec.models.interfaces import CodecShape, QuantizerOutput
from codec.quantization.common import QuantizerSizes, check_semantic, dropout_keep, residual_forward, usage_stats
from codec.schema import bounded


@dataclass
class FSQConfig:
    """K residual FSQ levels of `levels` per dim (codebook_size = prod(levels)); the first are semantic."""

    kind: Literal["fsq"] = "fsq"
    num_codebooks: int = bounded(8, 1, 64)
    levels: tuple[int, ...] = bounded((8, 5, 5, 5), 3, 256)
    num_semantic_codebooks: int = bounded(1, 1, 64)
    dropout_probability: float = bounded(0.5, 0.0, 1.0)

    @property
    def codebook_size(self) -> int:
        """Entries of the implicit codebook: prod(levels)."""
        return math.prod(self.levels)

    def validate(self, shape: CodecShape, where: str = "quantizer") -> None:
        """Raise ValueError when this config does not fit `shape`."""
        check_semantic(self.num_semantic_codebooks, self.num_codebooks, where)
        if not 1 <= len(self.levels) <= 16 or self.codebook_size > 65536:
            raise ValueError(f"{where}.levels: 1 to 16 levels whose product is at most 65536, got {self.levels}")


class ResidualFSQuantizer(QuantizerSizes, nn.Module):
    """K residual FSQ levels; `codes[:, :k]` is a valid lower bitrate for every k."""

    def __init__(self, cfg: FSQConfig, shape: CodecShape) -> None:
        super().__init__()
        self.cfg = cfg
        width = len(cfg.levels)
        self.project_in = nn.ModuleList(nn.Linear(shape.latent_dim, width) for _ in range(cfg.num_codebooks))
        self.project_out = nn.ModuleList(nn.Linear(width, shape.latent_dim) for _ in range(cfg.num_codebooks))
        self.codebooks = nn.ModuleList(FSQ(levels=list(cfg.levels)) for _ in range(cfg.num_codebooks))

    def _codebook(self, k: int) -> FSQ:
        return cast(FSQ, self.codebooks[k])

    def _level(self, k: int, residual: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Residual [B, F, D] -> (level output [B, F, D], codes [B, F])."""
        q, idx = self._codebook(k)(self.project_in[k](residual))
        return self.project_out[k](q), idx.long()

    def forward(
        self, latent: torch.Tensor, mask: torch.Tensor | None = None, num_codebooks: int | None = None
    ) -> QuantizerOutput:
        """Quantize latent [B, D, F]; in training mode each item keeps a random prefix of levels."""
        batch = latent.shape[0]
        k_max = num_codebooks or self.num_codebooks
        keep = dropout_keep(batch, k_max, self.cfg.dropout_probability if self.training else 0.0, latent.device)
        zero = latent.new_zeros(())  # FSQ has no codebook to commit to

        def level(k: int, residual: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            q, idx = self._level(k, residual)
            return q, idx, zero

        return residual_forward(latent, k_max, keep, self.cfg.num_semantic_codebooks, mask, level)

    def encode(self, latent: torch.Tensor, num_codebooks: int | None = None) -> torch.Tensor:
        """Latent [B, D, F] -> codes int64 [B, k, F]."""
        residual, codes = latent.transpose(1, 2), []
        for k in range(num_codebooks or self.num_codebooks):
            q, idx = self._level(k, residual)
            residual = residual - q
            codes.append(idx)
        return torch.stack(codes, dim=1)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes [B, k, F] (any prefix of the levels) -> quantized latent [B, D, F]."""
        out = torch.zeros(())
        for k in range(codes.shape[1]):
            out = out + self.project_out[k](self._codebook(k).indices_to_codes(codes[:, k]))
        return out.transpose(1, 2)

    def check_initialised(self) -> None:
        """FSQ's codebook is fixed: always ready."""

    def codebook_stats(self, codes: torch.Tensor, frame_lengths: torch.Tensor) -> dict[str, float]:
        """Per level: perplexity and used fraction of this batch's codes (no EMA, so no dead-code count)."""
        return usage_stats(codes, frame_lengths, self.codebook_size)
