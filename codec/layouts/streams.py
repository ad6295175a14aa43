"""Parallel text + speech streams, one step per frame: ids [B, 1 + K, F], row 0 text, rows 1..K audio.

`padded_text`: the text left-aligned from frame 0 and padded to the speech length (no alignment
needed). `word_aligned`: each word's text ids start at the word's first frame and are padded until
the next word (Moshi's "inner monologue"; needs word timings). Audio rows hold
`vocab.codebook_offset(k) + code`; text pads and padding frames hold `vocab.pad_id`. Rows can be
delayed further with `delay(streams.ids, streams.lengths, delays=[...])`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from codec.layouts.checks import (
    CodeBatch,
    TextAndCodes,
    anchor_frame,
    audio_codes,
    check_batch_list,
    check_frame_rate,
    check_ids,
    check_lengths,
    check_text,
    parse_word,
)
from codec.layouts.text import Alignment
from codec.layouts.vocabulary import Vocabulary, _unpack_for
from codec.nn.masks import length_mask
from codec.tokens import Tokens


@dataclass(frozen=True)
class StreamTokens:
    """Per-frame streams [B, 1 + K, F]: row 0 text (or `vocab.pad_id`), rows 1..K audio ids; `lengths` in frames."""

    ids: torch.Tensor
    lengths: torch.Tensor
    vocab: Vocabulary


def _streams(codes: torch.Tensor, lengths: torch.Tensor, text_rows: list[list[int]], vocab: Vocabulary) -> StreamTokens:
    batch, books, frames = codes.shape
    starts = vocab.audio_offset + vocab.codebook_size * torch.arange(books, device=codes.device)
    text = torch.full((batch, 1, frames), vocab.pad_id, dtype=torch.int64, device=codes.device)
    for b, row in enumerate(text_rows):
        text[b, 0, : len(row)] = torch.tensor(row, dtype=torch.int64)
    ids = torch.cat([text, codes + starts[None, :, None]], 1)
    return StreamTokens(ids.masked_fill(~length_mask(lengths, frames)[:, None, :], vocab.pad_id), lengths, vocab)


def padded_text(
    codes: Tokens | torch.Tensor,
    texts: Sequence[Sequence[int]],
    lengths: torch.Tensor | None = None,
    *,
    vocab: Vocabulary,
) -> StreamTokens:
    """Text ids from frame 0 of the text row, then `vocab.pad_id` to the item's last frame; longer text is an error."""
    codes, lengths = _unpack_for(vocab, codes, lengths)
    rows = []
    for b, text in enumerate(check_batch_list("texts", texts, codes.shape[0])):
        row = check_text(f"texts[{b}]", text, vocab.text_vocab_size)
        if len(row) > int(lengths[b]):
            raise ValueError(f"texts[{b}] has {len(row)} ids, more than its {int(lengths[b])} speech frames")
        rows.append(row)
    return _streams(codes, lengths, rows, vocab)


def word_aligned(
    codes: Tokens | torch.Tensor,
    alignments: Sequence[Alignment],
    lengths: torch.Tensor | None = None,
    *,
    vocab: Vocabulary,
    frame_rate: float | None = None,
) -> StreamTokens:
    """Each word's text ids from its first frame (the first starting at or after the word), then pads to the next word.

    A word must start inside the speech, not overlap the previous word, and leave at least one pad
    before the next word (the last word may end on the last frame); otherwise ValueError.
    """
    if isinstance(codes, Tokens):
        if frame_rate is not None and frame_rate != codes.frame_rate:
            raise ValueError(f"frame_rate {frame_rate} disagrees with the Tokens' {codes.frame_rate}")
        frame_rate = codes.frame_rate
    codes, lengths = _unpack_for(vocab, codes, lengths)
    rate = check_frame_rate(frame_rate)
    rows = []
    for b, words in enumerate(check_batch_list("alignments", alignments, codes.shape[0])):
        rows.append(_place_words(b, words, int(lengths[b]), rate, vocab))
    return _streams(codes, lengths, rows, vocab)


def _place_words(b: int, words: Alignment, frames: int, rate: float, vocab: Vocabulary) -> list[int]:
    row: list[int] = []
    previous_end = 0.0
    for w, word in enumerate(words):
        start, end, ids = parse_word(b, w, word)
        ids = check_text(f"alignments[{b}][{w}]", ids, vocab.text_vocab_size)
        if not ids:
            raise ValueError(f"alignments[{b}][{w}] has no text ids (an empty word cannot be recovered)")
        if start < previous_end - 1e-9:
            raise ValueError(
                f"alignments[{b}][{w}] starts at {start} s, before the previous word ends ({previous_end} s)"
            )
        anchor = anchor_frame(start, rate)
        if anchor >= frames:
            raise ValueError(
                f"alignments[{b}][{w}] starts at {start} s (frame {anchor}), past the end of item {b}'s {frames} frames"
            )
        if anchor < len(row) + (1 if row else 0):
            raise ValueError(
                f"alignments[{b}][{w}] starts at frame {anchor}, but the previous word's text runs to frame "
                f"{len(row) - 1} and needs a pad after it (text longer than its slot)"
            )
        row += [vocab.pad_id] * (anchor - len(row)) + ids
        if len(row) > frames:
            raise ValueError(
                f"alignments[{b}][{w}] has {len(ids)} text ids from frame {anchor}, "
                f"past the end of item {b}'s {frames} frames"
            )
        previous_end = end
    return row


def _unpack_streams(
    streams: StreamTokens | torch.Tensor, lengths: torch.Tensor | None, vocab: Vocabulary | None
) -> tuple[torch.Tensor, torch.Tensor, Vocabulary, CodeBatch]:
    """Validated ids [B, 1 + K, F], lengths, vocabulary and the audio rows' codes."""
    if isinstance(streams, StreamTokens):
        if lengths is not None or vocab is not None:
            raise ValueError("pass lengths/vocab only with a raw ids tensor")
        ids, lengths, vocab = streams.ids, streams.lengths, streams.vocab
    else:
        ids = streams
        if not isinstance(vocab, Vocabulary):
            raise ValueError("a raw ids tensor needs vocab=Vocabulary")
    ids = check_ids("ids", ids, 3)
    batch, rows, frames = ids.shape
    if rows != 1 + vocab.num_codebooks:
        raise ValueError(f"ids must have 1 + {vocab.num_codebooks} rows (text + codebooks), got {rows}")
    lengths = check_lengths(lengths, batch, frames, ids.device, "frames")
    codes = audio_codes(ids[:, 1:], lengths, vocab.codebook_size, vocab.audio_offset, "ids[{b}, 1 + {k}, {f}]")
    text = ids[:, 0]
    bad = length_mask(lengths, frames) & (text != vocab.pad_id) & ((text < 0) | (text >= vocab.text_vocab_size))
    if bool(bad.any()):
        b, f = (int(i) for i in bad.nonzero()[0])
        raise ValueError(f"ids[{b}, 0, {f}] = {int(text[b, f])} is neither a text id nor the pad {vocab.pad_id}")
    return ids, lengths, vocab, CodeBatch(codes, lengths)


def split_padded_text(
    streams: StreamTokens | torch.Tensor, lengths: torch.Tensor | None = None, *, vocab: Vocabulary | None = None
) -> TextAndCodes:
    """Invert `padded_text`: the text before the first pad, and the codes; text after a pad is an error."""
    ids, lengths, vocab, codes = _unpack_streams(streams, lengths, vocab)
    texts = []
    for b in range(ids.shape[0]):
        row = ids[b, 0, : int(lengths[b])].tolist()
        n = row.index(vocab.pad_id) if vocab.pad_id in row else len(row)
        if any(t != vocab.pad_id for t in row[n:]):
            f = n + next(i for i, t in enumerate(row[n:]) if t != vocab.pad_id)
            raise ValueError(f"ids[{b}, 0, {f}] = {row[f]} is text after the padding began at frame {n}")
        texts.append(tuple(row[:n]))
    return TextAndCodes(tuple(texts), codes)


def split_word_aligned(
    streams: StreamTokens | torch.Tensor, lengths: torch.Tensor | None = None, *, vocab: Vocabulary | None = None
) -> TextAndCodes:
    """Invert `word_aligned` to frame resolution: each run of text ids is a word starting at its first frame."""
    ids, lengths, vocab, codes = _unpack_streams(streams, lengths, vocab)
    texts, words = [], []
    for b in range(ids.shape[0]):
        row = ids[b, 0, : int(lengths[b])].tolist()
        item: list[tuple[int, tuple[int, ...]]] = []
        for f, t in enumerate(row):
            if t == vocab.pad_id:
                continue
            if f and row[f - 1] != vocab.pad_id:
                item[-1] = (item[-1][0], item[-1][1] + (t,))
            else:
                item.append((f, (t,)))
        words.append(tuple(item))
        texts.append(tuple(t for _, word in item for t in word))
    return TextAndCodes(tuple(texts), codes, tuple(words))
