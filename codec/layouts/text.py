"""Word-aligned text ids interleaved with semantic audio ids (`interleave_text`) and its inverse (`deinterleave`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from codec.layouts.checks import (
    CodeBatch,
    anchor_frame,
    check_frame_rate,
    check_int,
    check_pad,
    parse_word,
    unpack,
    unpack_ids,
)
from codec.nn.masks import length_mask
from codec.tokens import Tokens

Alignment = Sequence[tuple[float, float, Sequence[int]]]


@dataclass(frozen=True)
class InterleavedTokens:
    """Semantic ids with each word's text ids inserted before its first frame; `is_text` marks text."""

    ids: torch.Tensor
    is_text: torch.Tensor
    lengths: torch.Tensor
    num_codebooks: int
    codebook_size: int
    offset: int
    pad_id: int


def interleave_text(
    codes: Tokens | torch.Tensor,
    alignments: Sequence[Alignment],
    lengths: torch.Tensor | None = None,
    *,
    frame_rate: float | None = None,
    codebook_size: int | None = None,
    offset: int = 0,
    pad_id: int = -1,
) -> InterleavedTokens:
    """Insert each word's text ids before the semantic ids of the first frame starting at or after the word's start."""
    if isinstance(codes, Tokens):
        if frame_rate is not None and frame_rate != codes.frame_rate:
            raise ValueError(f"frame_rate {frame_rate} disagrees with the Tokens' {codes.frame_rate}")
        frame_rate = codes.frame_rate
        codes = codes.truncate(codes.num_semantic_codebooks)
    codes, lengths, size = unpack(codes, lengths, codebook_size)
    frame_rate = check_frame_rate(frame_rate)
    check_int("offset", offset, 0)
    batch, books, _ = codes.shape
    high = offset + books * size
    check_pad("pad_id", pad_id, offset, high)
    if len(alignments) != batch:
        raise ValueError(f"alignments must have one list per item ({batch}), got {len(alignments)}")
    starts = offset + size * torch.arange(books, device=codes.device)
    audio = (codes + starts[None, :, None]).transpose(1, 2)  # [B, F, K]
    rows: list[tuple[torch.Tensor, torch.Tensor]] = []
    for b, words in enumerate(alignments):
        n = int(lengths[b])
        anchors, text = _anchor_words(b, words, n, frame_rate, offset, high)
        # inserted[f] = text ids placed before frame f (f == n: after the last frame)
        inserted = torch.zeros(n + 1, dtype=torch.int64)
        for anchor, word_ids in zip(anchors, text):
            inserted[anchor] += len(word_ids)
        before = torch.cumsum(inserted, 0)[:n].to(codes.device)
        total = n * books + int(inserted.sum())
        audio_pos = (
            before[:, None]
            + books * torch.arange(n, device=codes.device)[:, None]
            + torch.arange(books, device=codes.device)[None, :]
        )
        is_text = torch.ones(total, dtype=torch.bool, device=codes.device)
        is_text[audio_pos.reshape(-1)] = False
        row = torch.empty(total, dtype=torch.int64, device=codes.device)
        row[audio_pos.reshape(-1)] = audio[b, :n].reshape(-1)
        order = sorted(range(len(anchors)), key=lambda i: anchors[i])  # stable: ties keep word order
        flat_text = [t for i in order for t in text[i]]
        row[is_text] = torch.tensor(flat_text, dtype=torch.int64, device=codes.device)
        rows.append((row, is_text))
    width = max((len(r) for r, _ in rows), default=0)
    ids = torch.full((batch, width), pad_id, dtype=torch.int64, device=codes.device)
    mask = torch.zeros((batch, width), dtype=torch.bool, device=codes.device)
    for b, (row, is_text) in enumerate(rows):
        ids[b, : len(row)] = row
        mask[b, : len(row)] = is_text
    out_lengths = torch.tensor([len(r) for r, _ in rows], dtype=torch.int64, device=codes.device)
    return InterleavedTokens(ids, mask, out_lengths, books, size, offset, pad_id)


def _anchor_words(
    b: int, words: Alignment, frames: int, frame_rate: float, low: int, high: int
) -> tuple[list[int], list[list[int]]]:
    """Frame index each word's text goes before (clamped to `frames`), and the validated text ids."""
    anchors: list[int] = []
    text: list[list[int]] = []
    for w, word in enumerate(words):
        start, _, word_ids = parse_word(b, w, word)
        for t in word_ids:
            if t < 0 or low <= t < high:
                raise ValueError(
                    f"alignments[{b}][{w}] text id {t} must be >= 0 and outside the audio id range [{low}, {high})"
                )
        anchors.append(min(anchor_frame(start, frame_rate), frames))
        text.append(word_ids)
    return anchors, text


def deinterleave(
    interleaved: InterleavedTokens | torch.Tensor,
    lengths: torch.Tensor | None = None,
    *,
    num_codebooks: int | None = None,
    codebook_size: int | None = None,
    offset: int = 0,
) -> CodeBatch:
    """Drop text ids (anything outside the audio id range) and recover semantic codes [B, S, max frames]."""
    ids, lengths, books, size, offset = unpack_ids(
        interleaved, InterleavedTokens, lengths, num_codebooks, codebook_size, offset
    )
    batch, width = ids.shape
    valid = length_mask(lengths, width)
    is_audio = valid & (ids >= offset) & (ids < offset + books * size)
    counts = is_audio.sum(1)
    if bool((counts % books != 0).any()):
        b = int((counts % books != 0).nonzero()[0])
        raise ValueError(f"item {b} has {int(counts[b])} audio ids, not a multiple of num_codebooks {books}")
    out_lengths = counts // books
    frames = int(out_lengths.max()) if batch else 0
    codes = torch.zeros((batch, books, frames), dtype=torch.int64, device=ids.device)
    for b in range(batch):
        audio = ids[b][is_audio[b]] - offset
        book = audio // size
        expected = torch.arange(len(audio), device=ids.device) % books
        if bool((book != expected).any()):
            i = int((book != expected).nonzero()[0])
            raise ValueError(
                f"item {b}: audio id {int(audio[i]) + offset} is codebook {int(book[i])}, "
                f"expected codebook {int(expected[i])} (ids must cycle 0..{books - 1} per frame)"
            )
        codes[b, :, : int(out_lengths[b])] = (audio % size).reshape(-1, books).T
    return CodeBatch(codes, out_lengths)
