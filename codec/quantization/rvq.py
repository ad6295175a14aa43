"""Residual VQ over vector-quantize-pytorch codebooks; the first levels carry semantic tokens.

Each level projects the residual down to `codebook_dim`, looks it up in a `VectorQuantize`
codebook (EMA updates, optional k-means init, dead-code replacement) and projects back up.
The projections live here rather than in VectorQuantize because its `mask` argument breaks
when it projects itself (vector-quantize-pytorch 1.32).
The residual loop is written here so that quantizer dropout can act per batch item (every level
still sees every item, so every codebook gets updates each step, which keeps DDP in lock-step)
and so that the semantic levels' output is available for distillation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, cast

import torch
from torch import nn
from vector_quantize_pytorch import VectorQuantize

from codec.models.interfaces import CodecShape, QuantizerOutput
from codec.quantization.common import QuantizerSizes, check_semantic, dropout_keep, residual_forward, usage_stats
from codec.schema import bounded


@dataclass
class RVQConfig:
    """Residual VQ: `num_codebooks` levels, the first `num_semantic_codebooks` distilled toward a teacher."""

    kind: Literal["rvq"] = "rvq"
    num_codebooks: int = bounded(8, 1, 64)
    codebook_size: int = bounded(1024, 2, 65536)
    codebook_dim: int = bounded(8, 1, 4096)
    num_semantic_codebooks: int = bounded(1, 1, 64)
    ema_decay: float = bounded(0.99, 0.0, 1.0)
    kmeans_init: bool = True
    # EMA uses per step; keep well below frames_per_batch / codebook_size
    threshold_ema_dead_code: float = bounded(0.05, 0.0, 1e9)
    commitment_weight: float = bounded(1.0, 0.0, 1e9)
    dropout_probability: float = bounded(0.5, 0.0, 1.0)

    def validate(self, shape: CodecShape, where: str = "quantizer") -> None:
        """Raise ValueError when this config does not fit `shape`."""
        check_semantic(self.num_semantic_codebooks, self.num_codebooks, where)
        if self.num_codebooks * self.codebook_size * self.codebook_dim > 2**26:
            raise ValueError(
                f"{where}: num_codebooks x codebook_size x codebook_dim = "
                f"{self.num_codebooks * self.codebook_size * self.codebook_dim} exceeds {2**26}"
            )


class ResidualQuantizer(QuantizerSizes, nn.Module):
    """K residual codebooks; `codes[:, :k]` is a valid lower bitrate for every k."""

    def __init__(self, cfg: RVQConfig, shape: CodecShape) -> None:
        super().__init__()
        self.cfg = cfg
        dim = shape.latent_dim
        self.project_in = nn.ModuleList(nn.Linear(dim, cfg.codebook_dim) for _ in range(cfg.num_codebooks))
        self.project_out = nn.ModuleList(nn.Linear(cfg.codebook_dim, dim) for _ in range(cfg.num_codebooks))
        self.levels = nn.ModuleList(
            VectorQuantize(
                dim=cfg.codebook_dim,
                codebook_size=cfg.codebook_size,
                decay=cfg.ema_decay,
                kmeans_init=cfg.kmeans_init,
                threshold_ema_dead_code=cast(Any, cfg.threshold_ema_dead_code),  # typed int upstream; floats work
                commitment_weight=cfg.commitment_weight,
            )
            for _ in range(cfg.num_codebooks)
        )

    def forward(
        self, latent: torch.Tensor, mask: torch.Tensor | None = None, num_codebooks: int | None = None
    ) -> QuantizerOutput:
        """Quantize latent [B, D, F]; in training mode each item keeps a random prefix of levels."""
        batch = latent.shape[0]
        k_max = num_codebooks or self.num_codebooks
        keep = dropout_keep(batch, k_max, self.cfg.dropout_probability if self.training else 0.0, latent.device)

        def level(k: int, residual: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            q, idx, loss = self.levels[k](self.project_in[k](residual), mask=mask)
            return self.project_out[k](q), idx, loss.sum()

        return residual_forward(latent, k_max, keep, self.cfg.num_semantic_codebooks, mask, level)

    def encode(self, latent: torch.Tensor, num_codebooks: int | None = None) -> torch.Tensor:
        """Latent [B, D, F] -> codes int64 [B, k, F] (no codebook updates)."""
        k_max = num_codebooks or self.num_codebooks
        self.check_initialised()
        residual = latent.transpose(1, 2)
        codes = []
        for k, level in enumerate(self.levels[:k_max]):
            q, idx, _ = level(self.project_in[k](residual), ema_update=False, freeze_codebook=True)
            residual = residual - self.project_out[k](q)
            codes.append(idx)
        return torch.stack(codes, dim=1)

    def check_initialised(self) -> None:
        """Raise ValueError if k-means init has not run yet (its codebooks are still all zeros)."""
        if not all(bool(_ema_codebook(level).initted) for level in self.levels):
            raise ValueError(
                "codebooks are not initialised yet (k-means init runs on the first training step): "
                "train or load a checkpoint, or build the model with quantizer.kmeans_init=false"
            )

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes [B, k, F] (any prefix of the levels) -> quantized latent [B, D, F]."""
        self.check_initialised()
        out = self._decode_level(codes, 0)
        for k in range(1, codes.shape[1]):
            out = out + self._decode_level(codes, k)
        return out.transpose(1, 2)

    def _decode_level(self, codes: torch.Tensor, k: int) -> torch.Tensor:
        level = cast(VectorQuantize, self.levels[k])
        return self.project_out[k](level.get_output_from_indices(codes[:, k]))

    @torch.no_grad()
    def codebook_stats(self, codes: torch.Tensor, frame_lengths: torch.Tensor) -> dict[str, float]:
        """Per level: perplexity and used fraction of this batch's codes, dead entries (EMA usage below threshold)."""
        stats = usage_stats(codes, frame_lengths, self.codebook_size)
        threshold = max(self.cfg.threshold_ema_dead_code, 1e-3)
        for k, level in enumerate(self.levels):
            stats[f"dead_{k}"] = float((_ema_codebook(level).cluster_size < threshold).sum())
        return stats


def _ema_codebook(level: nn.Module) -> Any:
    """The EMA codebook inside a VectorQuantize (vector-quantize-pytorch 1.x keeps `initted` and
    `cluster_size` there and has no public accessor); the one place this module relies on it."""
    return level._codebook
