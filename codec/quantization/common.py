"""What every quantizer kind shares: the semantic-prefix check, per-item quantizer dropout, usage statistics."""

from __future__ import annotations

import torch


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
