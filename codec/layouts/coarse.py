"""Coarse-first layout: semantic ids, optional separator, then acoustic ids (`coarse_first`, `split_coarse_first`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from codec.layouts.checks import (
    CodeBatch,
    check_ids,
    check_int,
    check_lengths,
    check_pad,
    unpack,
)
from codec.nn.masks import length_mask
from codec.tokens import Tokens


@dataclass(frozen=True)
class CoarseFirstTokens:
    """Per item: semantic ids (frame-major), optional separator, then acoustic ids (frame-major)."""

    ids: torch.Tensor
    lengths: torch.Tensor
    num_codebooks: int
    num_semantic_codebooks: int
    codebook_size: int
    offset: int
    sep_id: int | None
    pad_id: int


def _coarse_positions(lengths: torch.Tensor, books: int, semantic: int, frames: int, sep: int) -> torch.Tensor:
    """Position in the coarse-first sequence of every (b, k, f): int64 [B, K, F]."""
    k = torch.arange(books, device=lengths.device)[None, :, None]
    f = torch.arange(frames, device=lengths.device)[None, None, :]
    acoustic = books - semantic
    sem_pos = f * semantic + k
    ac_pos = semantic * lengths[:, None, None] + sep + f * acoustic + (k - semantic)
    return torch.where(k < semantic, sem_pos, ac_pos)


def coarse_first(
    codes: Tokens | torch.Tensor,
    lengths: torch.Tensor | None = None,
    *,
    num_semantic_codebooks: int | None = None,
    codebook_size: int | None = None,
    offset: int = 0,
    sep_id: int | None = None,
    pad_id: int = -1,
) -> CoarseFirstTokens:
    """Per item: all semantic ids (frame-major), then `sep_id` if given, then acoustic ids (frame-major)."""
    if isinstance(codes, Tokens):
        if num_semantic_codebooks is not None and num_semantic_codebooks != codes.num_semantic_codebooks:
            raise ValueError(
                f"num_semantic_codebooks {num_semantic_codebooks} disagrees with the Tokens' "
                f"{codes.num_semantic_codebooks}"
            )
        num_semantic_codebooks = codes.num_semantic_codebooks
    codes, lengths, size = unpack(codes, lengths, codebook_size)
    batch, books, frames = codes.shape
    if num_semantic_codebooks is None:
        raise ValueError("num_semantic_codebooks is required when passing a raw codes tensor")
    semantic = check_int("num_semantic_codebooks", num_semantic_codebooks, 1)
    if semantic > books:
        raise ValueError(f"num_semantic_codebooks must be in [1, {books}], got {semantic}")
    check_int("offset", offset, 0)
    high = offset + books * size
    check_pad("pad_id", pad_id, offset, high)
    if sep_id is not None:
        check_pad("sep_id", sep_id, offset, high)
    sep = int(sep_id is not None)
    width = books * frames + sep
    pos = _coarse_positions(lengths, books, semantic, frames, sep)
    valid = length_mask(lengths, frames)[:, None, :].expand(batch, books, frames)
    pos = torch.where(valid, pos, width)  # invalid entries go to a scratch column dropped below
    starts = offset + size * torch.arange(books, device=codes.device)
    values = codes + starts[None, :, None]
    ids = torch.full((batch, width + 1), pad_id, dtype=torch.int64, device=codes.device)
    ids.scatter_(1, pos.reshape(batch, -1), values.reshape(batch, -1))
    if sep_id is not None:
        ids.scatter_(1, (semantic * lengths)[:, None], torch.full((batch, 1), sep_id, device=codes.device))
    return CoarseFirstTokens(ids[:, :width], books * lengths + sep, books, semantic, size, offset, sep_id, pad_id)


def split_coarse_first(
    coarse: CoarseFirstTokens | torch.Tensor,
    lengths: torch.Tensor | None = None,
    *,
    num_codebooks: int | None = None,
    num_semantic_codebooks: int | None = None,
    codebook_size: int | None = None,
    offset: int = 0,
    sep_id: int | None = None,
) -> CodeBatch:
    """Invert `coarse_first`: ids [B, N] back to codes [B, K, ceil((N - sep) / K)], validating every id."""
    if isinstance(coarse, CoarseFirstTokens):
        if any(v is not None for v in (lengths, num_codebooks, num_semantic_codebooks, codebook_size, sep_id)):
            raise ValueError("pass lengths/num_codebooks/num_semantic_codebooks/codebook_size/sep_id only with raw ids")
        ids, lengths, books, semantic = coarse.ids, coarse.lengths, coarse.num_codebooks, coarse.num_semantic_codebooks
        size, offset, sep_id = coarse.codebook_size, coarse.offset, coarse.sep_id
    else:
        ids, books, semantic, size = coarse, num_codebooks, num_semantic_codebooks, codebook_size
        if books is None or semantic is None or size is None:
            raise ValueError("num_codebooks, num_semantic_codebooks and codebook_size are required with raw ids")
    ids = check_ids("ids", ids, 2)
    check_int("num_codebooks", books, 1)
    check_int("num_semantic_codebooks", semantic, 1)
    if semantic > books:
        raise ValueError(f"num_semantic_codebooks must be in [1, {books}], got {semantic}")
    check_int("codebook_size", size, 1)
    check_int("offset", offset, 0)
    batch, width = ids.shape
    sep = int(sep_id is not None)
    lengths = check_lengths(lengths, batch, width, ids.device, "ids")
    body = lengths - sep
    wrong = (body < 0) | (body % books != 0)
    if bool(wrong.any()):
        b = int(wrong.nonzero()[0])
        raise ValueError(
            f"lengths[{b}] = {int(lengths[b])} is not {books} * frames + {sep} (num_codebooks {books}, separator {sep})"
        )
    frames_per_item = body // books
    if sep_id is not None:
        found = torch.gather(ids, 1, (semantic * frames_per_item)[:, None])[:, 0]
        if bool((found != sep_id).any()):
            b = int((found != sep_id).nonzero()[0])
            p = semantic * int(frames_per_item[b])
            raise ValueError(f"ids[{b}, {p}] = {int(found[b])}, expected the separator {sep_id}")
    frames = max(math.ceil((width - sep) / books), 0)
    pos = _coarse_positions(frames_per_item, books, semantic, frames, sep)
    valid = length_mask(frames_per_item, frames)[:, None, :].expand(batch, books, frames)
    pos = torch.where(valid, pos, 0).reshape(batch, -1)
    values = torch.gather(ids, 1, pos).reshape(batch, books, frames)
    low = (offset + size * torch.arange(books, device=ids.device))[None, :, None]
    codes = values - low
    bad = valid & ((codes < 0) | (codes >= size))
    if bool(bad.any()):
        b, k, f = (int(i) for i in bad.nonzero()[0])
        lo = int(low[0, k, 0])
        raise ValueError(
            f"ids[{b}, {int(pos[b, k * frames + f])}] = {int(values[b, k, f])} is outside codebook {k}'s range "
            f"[{lo}, {lo + size})"
        )
    return CodeBatch(codes.masked_fill(~valid, 0), frames_per_item)
