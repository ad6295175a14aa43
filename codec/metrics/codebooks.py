"""Codebook statistics: entry counts, usage, perplexity and first-order entropy bitrate."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from codec.metrics._common import IntSequence


@dataclass(frozen=True)
class CodebookUsage:
    """Per-codebook unigram statistics over valid frames (tuples have one entry per codebook)."""

    codebook_size: int
    num_frames: int
    used_fraction: tuple[float, ...]
    perplexity: tuple[float, ...]
    entropy_bits: tuple[float, ...]

    @property
    def num_codebooks(self) -> int:
        """Number of codebooks (K)."""
        return len(self.entropy_bits)

    def bitrate(self, frame_rate: float) -> float:
        """First-order entropy bitrate in bits/s: sum of per-codebook entropies x frame_rate."""
        return float(sum(self.entropy_bits)) * float(frame_rate)


def _valid_code_frames(codes: torch.Tensor | Sequence[torch.Tensor], lengths: IntSequence | None) -> torch.Tensor:
    """All valid frames as int64 [K, N] from [B, K, F] + lengths, [K, F] or a list of [K, F_i]."""
    if isinstance(codes, (list, tuple)):
        if lengths is not None:
            raise ValueError("pass lengths=None when codes is a list of [K, F_i] tensors")
        items = [torch.as_tensor(c) for c in codes]
    else:
        codes = torch.as_tensor(codes)
        if codes.dim() == 2:
            codes = codes[None]
        if codes.dim() != 3:
            raise ValueError(f"codes must be [B, K, F], [K, F] or a list of [K, F_i], got {tuple(codes.shape)}")
        if lengths is None:
            items = list(codes)
        else:
            valid = torch.as_tensor(lengths).reshape(-1).tolist()
            if len(valid) != codes.shape[0]:
                raise ValueError(f"lengths has {len(valid)} entries for a batch of {codes.shape[0]}")
            items = [codes[b, :, : int(n)] for b, n in enumerate(valid)]
    if not items or any(c.dim() != 2 for c in items) or len({c.shape[0] for c in items}) != 1:
        raise ValueError("every item of codes must be [K, F_i] with the same K")
    return torch.cat([c.long() for c in items], dim=1)


def codebook_counts(
    codes: torch.Tensor | Sequence[torch.Tensor], lengths: IntSequence | None, codebook_size: int
) -> torch.Tensor:
    """Occurrence counts int64 [K, codebook_size] of each entry over valid frames (sum across batches)."""
    flat = _valid_code_frames(codes, lengths)
    if flat.numel() and (int(flat.min()) < 0 or int(flat.max()) >= codebook_size):
        raise ValueError(f"codes must lie in [0, {codebook_size}), got [{int(flat.min())}, {int(flat.max())}]")
    offsets = torch.arange(flat.shape[0], device=flat.device)[:, None] * codebook_size
    counts = torch.bincount((flat + offsets).reshape(-1), minlength=flat.shape[0] * codebook_size)
    return counts.reshape(flat.shape[0], codebook_size).cpu()


def _entropy_bits(counts: torch.Tensor) -> torch.Tensor:
    """Shannon entropy in bits of each row of a count matrix (0 log 0 = 0)."""
    p = counts.double() / counts.double().sum(dim=-1, keepdim=True)
    return -(torch.where(p > 0, p * torch.log2(p), torch.zeros_like(p))).sum(dim=-1)


def usage_from_counts(counts: torch.Tensor) -> CodebookUsage:
    """CodebookUsage from a [K, codebook_size] count matrix (e.g. summed over a dataset)."""
    counts = torch.as_tensor(counts)
    totals = counts.sum(dim=-1)
    if counts.dim() != 2 or bool((totals == 0).any()):
        raise ValueError("counts must be [K, codebook_size] with at least one valid frame")
    entropy = _entropy_bits(counts)
    return CodebookUsage(
        codebook_size=int(counts.shape[1]),
        num_frames=int(totals[0]),
        used_fraction=tuple(((counts > 0).sum(dim=-1).double() / counts.shape[1]).tolist()),
        perplexity=tuple(torch.exp2(entropy).tolist()),
        entropy_bits=tuple(entropy.tolist()),
    )


def codebook_usage(
    codes: torch.Tensor | Sequence[torch.Tensor], lengths: IntSequence | None, codebook_size: int
) -> CodebookUsage:
    """Per-codebook used fraction, perplexity and entropy (bits) over valid frames."""
    return usage_from_counts(codebook_counts(codes, lengths, codebook_size))


def empirical_bitrate(
    codes: torch.Tensor | Sequence[torch.Tensor], lengths: IntSequence | None, codebook_size: int, frame_rate: float
) -> float:
    """First-order (unigram) entropy bitrate in bits/s: sum over codebooks of entropy x frame_rate."""
    return codebook_usage(codes, lengths, codebook_size).bitrate(frame_rate)
