"""Frame-major flattening of codes [B, K, F] to ids [B, K * F] (`flatten`) and its inverse (`unflatten`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from codec.layouts.checks import (
    CodeBatch,
    first_bad,
    offset_groups,
    unpack_ids,
)
from codec.nn.masks import length_mask
from codec.tokens import Tokens


@dataclass(frozen=True)
class FlatTokens:
    """Frame-major interleaved ids [B, K * F]; `lengths` counts ids (valid frames * K)."""

    ids: torch.Tensor
    lengths: torch.Tensor
    num_codebooks: int
    codebook_size: int
    offset: int
    pad_id: int


def flatten(
    codes: Tokens | torch.Tensor,
    lengths: torch.Tensor | None = None,
    *,
    codebook_size: int | None = None,
    offset: int = 0,
    pad_id: int = -1,
) -> FlatTokens:
    """Interleave codebooks frame-major (f0k0, f0k1, ..., f1k0, ...) with per-codebook id offsets."""
    groups, lengths, size = offset_groups(codes, lengths, codebook_size, offset, pad_id)
    batch, frames, books = groups.shape
    ids = groups.reshape(batch, frames * books)
    flat_lengths = lengths * books
    ids = ids.masked_fill(~length_mask(flat_lengths, frames * books), pad_id)
    return FlatTokens(ids, flat_lengths, books, size, offset, pad_id)


def unflatten(
    flat: FlatTokens | torch.Tensor,
    lengths: torch.Tensor | None = None,
    *,
    num_codebooks: int | None = None,
    codebook_size: int | None = None,
    offset: int = 0,
) -> CodeBatch:
    """Invert `flatten`: ids [B, N] back to codes [B, K, ceil(N / K)], validating every id."""
    ids, lengths, books, size, offset = unpack_ids(flat, FlatTokens, lengths, num_codebooks, codebook_size, offset)
    batch, width = ids.shape
    if bool((lengths % books != 0).any()):
        b = int((lengths % books != 0).nonzero()[0])
        raise ValueError(f"lengths[{b}] = {int(lengths[b])} is not a multiple of num_codebooks {books}")
    frames = math.ceil(width / books)
    ids = torch.nn.functional.pad(ids, (0, frames * books - width))
    position = torch.arange(frames * books, device=ids.device)
    low = offset + size * (position % books)
    valid = length_mask(lengths, frames * books)
    bad = valid & ((ids < low) | (ids >= low + size))
    if bool(bad.any()):
        b, p = first_bad(bad)
        lo = int(low[p])
        raise ValueError(
            f"ids[{b}, {p}] = {int(ids[b, p])} is outside codebook {p % books}'s range [{lo}, {lo + size})"
        )
    codes = (ids - low).masked_fill(~valid, 0).reshape(batch, frames, books).transpose(1, 2).contiguous()
    return CodeBatch(codes, lengths // books)
