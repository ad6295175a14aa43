"""What every quantizer kind shares: the semantic-prefix check, per-item quantizer dropout, the residual training
pass, usage statistics."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from codec.models.interfaces import QuantizerOutput


class QuantizerSizes:
    """K, entries per codebook and the semantic prefix, read off `self.cfg` (every quantizer kind answers alike)."""

    cfg: Any

    @property
    def num_codebooks(self) -> int:
        """K."""
        return self.cfg.num_codebooks

    @property
    def codebook_size(self) -> int:
        """Entries per codebook."""
        return self.cfg.codebook_size

    @property
    def num_semantic_codebooks(self) -> int:
        """Levels distilled toward the semantic teacher."""
        return self.cfg.num_semantic_codebooks


def check_semantic(num_semantic: int, num_codebooks: int, where: str) -> None:
    """Raise ValueError unless 1 <= num_semantic_codebooks <= num_codebooks."""
    if not 1 <= num_semantic <= num_codebooks:
        raise ValueError(f"{where}.num_semantic_codebooks must be in [1, {num_codebooks}], got {num_semantic}")


def dropout_keep(batch: int, k_max: int, probability: float, device: torch.device) -> torch.Tensor:
    """Codebooks each item keeps [B]: all `k_max`, or with `probability` a random prefix of 1..k_max."""
    keep = torch.full((batch,), k_max, device=device)
    if probability > 0:
        drop = torch.rand(batch, device=device) < probability
        random_k = torch.randint(1, k_max + 1, (batch,), device=device)
        keep = torch.where(drop, random_k, keep)
    return keep


@torch.no_grad()
def usage_stats(codes: torch.Tensor, frame_lengths: torch.Tensor, codebook_size: int) -> dict[str, float]:
    """perplexity_k and used_k (fraction of entries seen) of codes [B, K, F] over valid frames."""
    from codec.metrics.codebooks import codebook_usage  # codec.metrics imports torchaudio: only when asked

    usage = codebook_usage(codes.cpu(), frame_lengths.cpu(), codebook_size)
    stats = {}
    for k in range(usage.num_codebooks):
        stats[f"perplexity_{k}"] = float(usage.perplexity[k])
        stats[f"used_{k}"] = float(usage.used_fraction[k])
    return stats


LevelFn = Callable[[int, torch.Tensor], tuple[torch.Tensor, torch.Tensor, torch.Tensor]]


def residual_forward(
    latent: torch.Tensor, k_max: int, keep: torch.Tensor, num_semantic: int, mask: torch.Tensor | None, level: LevelFn
) -> QuantizerOutput:
    """The training pass every residual quantizer shares: `level(k, residual [B, F, D])` -> (output [B, F, D],
    codes [B, F], loss) for k < k_max; item b keeps its first `keep[b]` levels; the semantic levels summed apart."""
    residual = latent.transpose(1, 2)
    quantized = torch.zeros_like(residual)
    semantic = torch.zeros_like(residual)
    codes, losses = [], []
    for k in range(k_max):
        q, idx, loss = level(k, residual)
        residual = residual - q.detach()
        quantized = quantized + q * (keep > k).to(q.dtype)[:, None, None]
        if k < num_semantic:
            semantic = semantic + q
        codes.append(idx)
        losses.append(loss)
    codes_t = torch.stack(codes, dim=1)
    if mask is not None:
        codes_t = codes_t.masked_fill(~mask[:, None, :], 0)
    return QuantizerOutput(
        quantized=quantized.transpose(1, 2),
        semantic_quantized=semantic.transpose(1, 2),
        codes=codes_t,
        commitment_loss=torch.stack(losses).mean(),
        num_codebooks_used=keep,
    )
