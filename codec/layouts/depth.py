"""Depth (hierarchical, RQ-Transformer style) layout: per-frame groups [B, F, K] and their views.

A temporal model steps over frames (`frame_inputs`: frame f sees the group of frame f - 1) and a
small depth model steps over the K ids inside one frame (`within_frame`: one row per valid frame).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from codec.layouts.checks import (
    CodeBatch,
    audio_codes,
    check_ids,
    check_int,
    check_lengths,
    check_pad,
    offset_groups,
)
from codec.nn.masks import length_mask
from codec.tokens import Tokens


@dataclass(frozen=True)
class DepthTokens:
    """Per-frame groups ids [B, F, K] (`ids[b, f, k] = offset + k * codebook_size + code`); padding holds `pad_id`."""

    ids: torch.Tensor
    lengths: torch.Tensor
    num_codebooks: int
    codebook_size: int
    offset: int
    pad_id: int


@dataclass(frozen=True)
class FrameGroups:
    """Within-frame view: one row of K ids per valid frame, items in order then frames in order."""

    ids: torch.Tensor
    item: torch.Tensor
    frame: torch.Tensor
    lengths: torch.Tensor
    num_frames: int
    num_codebooks: int
    codebook_size: int
    offset: int
    pad_id: int


def depth(
    codes: Tokens | torch.Tensor,
    lengths: torch.Tensor | None = None,
    *,
    codebook_size: int | None = None,
    offset: int = 0,
    pad_id: int = -1,
) -> DepthTokens:
    """Group each frame's K ids: codes [B, K, F] -> ids [B, F, K] with per-codebook offsets."""
    ids, lengths, size = offset_groups(codes, lengths, codebook_size, offset, pad_id)
    _, frames, books = ids.shape
    ids = ids.masked_fill(~length_mask(lengths, frames)[:, :, None], pad_id).contiguous()
    return DepthTokens(ids, lengths, books, size, offset, pad_id)


def undepth(
    groups: DepthTokens | torch.Tensor,
    lengths: torch.Tensor | None = None,
    *,
    codebook_size: int | None = None,
    offset: int = 0,
) -> CodeBatch:
    """Invert `depth`: ids [B, F, K] back to codes [B, K, F], validating every id's codebook range."""
    if isinstance(groups, DepthTokens):
        if lengths is not None or codebook_size is not None:
            raise ValueError("pass lengths/codebook_size only with a raw ids tensor")
        ids, lengths, size, offset = groups.ids, groups.lengths, groups.codebook_size, groups.offset
    else:
        ids, size = groups, codebook_size
        if size is None:
            raise ValueError("codebook_size is required with a raw ids tensor")
    ids = check_ids("ids", ids, 3)
    check_int("codebook_size", size, 1)
    check_int("offset", offset, 0)
    batch, frames, _ = ids.shape
    lengths = check_lengths(lengths, batch, frames, ids.device, "frames")
    codes = audio_codes(ids.transpose(1, 2), lengths, size, offset, "ids[{b}, {f}, {k}]")
    return CodeBatch(codes, lengths)


def frame_inputs(groups: DepthTokens, bos_id: int) -> torch.Tensor:
    """Temporal-model inputs [B, F, K]: position f holds the group of frame f - 1 (`bos_id` at f = 0)."""
    if not isinstance(groups, DepthTokens):
        raise ValueError(f"frame_inputs takes a DepthTokens, got {type(groups).__name__}")
    check_pad("bos_id", bos_id, groups.offset, groups.offset + groups.num_codebooks * groups.codebook_size)
    batch, frames, books = groups.ids.shape
    first = torch.full((batch, 1, books), bos_id, dtype=torch.int64, device=groups.ids.device)
    shifted = torch.cat([first, groups.ids[:, : max(frames - 1, 0)]], 1)[:, :frames]
    return shifted.masked_fill(~length_mask(groups.lengths, frames)[:, :, None], groups.pad_id)


def within_frame(groups: DepthTokens) -> FrameGroups:
    """Depth-model view: the K ids of every valid frame as rows [N, K], N = sum(lengths), with their (item, frame)."""
    if not isinstance(groups, DepthTokens):
        raise ValueError(f"within_frame takes a DepthTokens, got {type(groups).__name__}")
    valid = length_mask(groups.lengths, groups.ids.shape[1])
    item, frame = valid.nonzero(as_tuple=True)
    return FrameGroups(
        groups.ids[item, frame],
        item,
        frame,
        groups.lengths,
        groups.ids.shape[1],
        groups.num_codebooks,
        groups.codebook_size,
        groups.offset,
        groups.pad_id,
    )


def from_within_frame(rows: FrameGroups | torch.Tensor, like: FrameGroups | None = None) -> DepthTokens:
    """Invert `within_frame`; pass new rows [N, K] (e.g. sampled by a depth model) with `like` giving the placement."""
    if isinstance(rows, FrameGroups):
        if like is not None:
            raise ValueError("pass `like` only with a raw rows tensor")
        like, ids = rows, rows.ids
    else:
        if not isinstance(like, FrameGroups):
            raise ValueError("a raw rows tensor needs like=FrameGroups for its placement")
        ids = check_ids("rows", rows, 2)
    if ids.shape != like.ids.shape:
        raise ValueError(f"rows must have shape {tuple(like.ids.shape)} (one row per frame), got {tuple(ids.shape)}")
    batch = like.lengths.shape[0]
    out = torch.full((batch, like.num_frames, like.num_codebooks), like.pad_id, dtype=torch.int64, device=ids.device)
    out[like.item, like.frame] = ids
    result = DepthTokens(out, like.lengths, like.num_codebooks, like.codebook_size, like.offset, like.pad_id)
    undepth(result)  # validate every id against its codebook's range
    return result
