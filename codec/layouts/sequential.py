"""Text and speech in one stream, no alignment needed: `sequential` (text, sep, speech) and
`ratio_interleave` (N text ids, M speech frames, N text ids, ...; GLM-4-Voice style).

Speech frames are written frame-major (K ids each, `vocab.codebook_offset(k) + code`); text ids are
`[0, vocab.text_vocab_size)`, so the inverses tell the two apart by range. Padding is `vocab.pad_id`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from codec.layouts.checks import (
    TextAndCodes,
    check_batch_list,
    check_ids,
    check_int,
    check_lengths,
    check_text,
)
from codec.layouts.flat import flatten, unflatten
from codec.layouts.vocabulary import Vocabulary, _unpack_for
from codec.nn.masks import length_mask
from codec.tokens import Tokens


@dataclass(frozen=True)
class TextSpeechTokens:
    """One stream per item [B, N] (`lengths` ids) mixing text and speech; `is_text` [B, N] marks the text ids."""

    ids: torch.Tensor
    is_text: torch.Tensor
    lengths: torch.Tensor
    vocab: Vocabulary
    text_per_chunk: int = 0
    frames_per_chunk: int = 0


def _ratio_mask(num_text: int, frames: int, books: int, text_per_chunk: int, frames_per_chunk: int) -> list[bool]:
    """is_text of every position: chunks of up to N text ids then up to M frames until both run out."""
    out: list[bool] = []
    t = f = 0
    while t < num_text or f < frames:
        take_t, take_f = min(text_per_chunk, num_text - t), min(frames_per_chunk, frames - f)
        out += [True] * take_t + [False] * (take_f * books)
        t, f = t + take_t, f + take_f
    return out


def _build(
    rows: list[tuple[list[int], list[bool]]], device: torch.device, vocab: Vocabulary, n: int = 0, m: int = 0
) -> TextSpeechTokens:
    width = max((len(r) for r, _ in rows), default=0)
    ids = torch.full((len(rows), width), vocab.pad_id, dtype=torch.int64)
    is_text = torch.zeros((len(rows), width), dtype=torch.bool)
    for b, (row, mask) in enumerate(rows):
        ids[b, : len(row)] = torch.tensor(row, dtype=torch.int64)
        is_text[b, : len(mask)] = torch.tensor(mask, dtype=torch.bool)
    lengths = torch.tensor([len(r) for r, _ in rows], dtype=torch.int64)
    return TextSpeechTokens(ids.to(device), is_text.to(device), lengths.to(device), vocab, n, m)


def _audio_rows(
    codes: Tokens | torch.Tensor, lengths: torch.Tensor | None, texts: object, vocab: Vocabulary
) -> tuple[list[list[int]], list[list[int]], torch.device]:
    """Per item: validated text ids and frame-major audio ids."""
    codes, lengths = _unpack_for(vocab, codes, lengths)
    flat = flatten(codes, lengths, codebook_size=vocab.codebook_size, offset=vocab.audio_offset, pad_id=vocab.pad_id)
    items = check_batch_list("texts", texts, codes.shape[0])
    text = [check_text(f"texts[{b}]", t, vocab.text_vocab_size) for b, t in enumerate(items)]
    audio = [flat.ids[b, : int(flat.lengths[b])].tolist() for b in range(codes.shape[0])]
    return text, audio, codes.device


def sequential(
    codes: Tokens | torch.Tensor,
    texts: Sequence[Sequence[int]],
    lengths: torch.Tensor | None = None,
    *,
    vocab: Vocabulary,
) -> TextSpeechTokens:
    """Per item: its text ids, `vocab.sep_id`, then its speech ids frame-major (length T + 1 + K * F)."""
    text, audio, device = _audio_rows(codes, lengths, texts, vocab)
    rows = [(t + [vocab.sep_id] + a, [True] * len(t) + [False] * (1 + len(a))) for t, a in zip(text, audio)]
    return _build(rows, device, vocab)


def ratio_interleave(
    codes: Tokens | torch.Tensor,
    texts: Sequence[Sequence[int]],
    lengths: torch.Tensor | None = None,
    *,
    vocab: Vocabulary,
    text_per_chunk: int,
    frames_per_chunk: int,
) -> TextSpeechTokens:
    """N text ids, then M frames (M * K ids), repeated; once one side runs out the other continues alone."""
    n = check_int("text_per_chunk", text_per_chunk, 1)
    m = check_int("frames_per_chunk", frames_per_chunk, 1)
    text, audio, device = _audio_rows(codes, lengths, texts, vocab)
    rows = []
    for t, a in zip(text, audio):
        mask = _ratio_mask(len(t), len(a) // vocab.num_codebooks, vocab.num_codebooks, n, m)
        text_iter, audio_iter = iter(t), iter(a)
        rows.append(([next(text_iter) if is_t else next(audio_iter) for is_t in mask], mask))
    return _build(rows, device, vocab, n, m)


def _unpack_stream(
    stream: TextSpeechTokens | torch.Tensor,
    lengths: torch.Tensor | None,
    vocab: Vocabulary | None,
    **settings: int | None,
) -> tuple[torch.Tensor, torch.Tensor, Vocabulary, dict]:
    if isinstance(stream, TextSpeechTokens):
        if lengths is not None or vocab is not None or any(v is not None for v in settings.values()):
            raise ValueError(f"pass lengths/vocab/{'/'.join(settings) or 'settings'} only with a raw ids tensor")
        ids, lengths, vocab = stream.ids, stream.lengths, stream.vocab
        settings = {name: check_int(name, getattr(stream, name), 1) for name in settings}
    else:
        ids = stream
        if not isinstance(vocab, Vocabulary):
            raise ValueError("a raw ids tensor needs vocab=Vocabulary")
        settings = {name: check_int(name, value, 1) for name, value in settings.items()}
    ids = check_ids("ids", ids, 2)
    return ids, check_lengths(lengths, ids.shape[0], ids.shape[1], ids.device, "ids"), vocab, settings


def _split_rows(
    ids: torch.Tensor, lengths: torch.Tensor, vocab: Vocabulary, kinds: list[list[bool | None]]
) -> TextAndCodes:
    """Texts and codes of each item, given which of its ids are text (True), speech (False) or neither (None)."""
    books, size, audio_rows, texts = vocab.num_codebooks, vocab.codebook_size, [], []
    for b, kind in enumerate(kinds):
        row = ids[b, : int(lengths[b])].tolist()
        texts.append(tuple(t for t, k in zip(row, kind) if k is True))
        audio = [(p, t) for p, (t, k) in enumerate(zip(row, kind)) if k is False]
        if len(audio) % books:
            raise ValueError(f"item {b} has {len(audio)} speech ids, not a multiple of num_codebooks {books}")
        for i, (p, t) in enumerate(audio):
            low = vocab.codebook_offset(i % books)
            if not low <= t < low + size:
                raise ValueError(f"ids[{b}, {p}] = {t} is outside codebook {i % books}'s range [{low}, {low + size})")
        audio_rows.append([t for _, t in audio])
    width = max((len(a) for a in audio_rows), default=0)
    audio_ids = torch.full((len(audio_rows), width), vocab.pad_id, dtype=torch.int64)
    for b, a in enumerate(audio_rows):
        audio_ids[b, : len(a)] = torch.tensor(a, dtype=torch.int64)
    audio_lengths = torch.tensor([len(a) for a in audio_rows], dtype=torch.int64)
    codes = unflatten(
        audio_ids.to(ids.device),
        audio_lengths.to(ids.device),
        num_codebooks=books,
        codebook_size=size,
        offset=vocab.audio_offset,
    )
    return TextAndCodes(tuple(texts), codes)


def _is_text(ids: torch.Tensor, vocab: Vocabulary) -> torch.Tensor:
    return (ids >= 0) & (ids < vocab.text_vocab_size)


def split_sequential(
    stream: TextSpeechTokens | torch.Tensor, lengths: torch.Tensor | None = None, *, vocab: Vocabulary | None = None
) -> TextAndCodes:
    """Invert `sequential`: text ids before the first `sep_id`, speech ids after it (every id checked)."""
    ids, lengths, vocab, _ = _unpack_stream(stream, lengths, vocab)
    masks = []
    for b in range(ids.shape[0]):
        row = ids[b, : int(lengths[b])]
        seps = (row == vocab.sep_id).nonzero()
        if not len(seps):
            raise ValueError(f"item {b} has no separator {vocab.sep_id} between its text and speech")
        cut = int(seps[0])
        text = _is_text(row[:cut], vocab)
        if not bool(text.all()):
            p = int((~text).nonzero()[0])
            raise ValueError(f"ids[{b}, {p}] = {int(row[p])} is not a text id, yet it comes before the separator")
        masks.append([True] * cut + [None] + [False] * (len(row) - cut - 1))  # type: ignore[list-item]
    return _split_rows(ids, lengths, vocab, masks)


def split_ratio_interleave(
    stream: TextSpeechTokens | torch.Tensor,
    lengths: torch.Tensor | None = None,
    *,
    vocab: Vocabulary | None = None,
    text_per_chunk: int | None = None,
    frames_per_chunk: int | None = None,
) -> TextAndCodes:
    """Invert `ratio_interleave`: text ids by range, checked to sit where the N : M pattern puts them."""
    ids, lengths, vocab, chunk = _unpack_stream(
        stream, lengths, vocab, text_per_chunk=text_per_chunk, frames_per_chunk=frames_per_chunk
    )
    is_text = _is_text(ids, vocab) & length_mask(lengths, ids.shape[1])
    masks = []
    for b in range(ids.shape[0]):
        n_text = int(is_text[b].sum())
        frames = (int(lengths[b]) - n_text) // vocab.num_codebooks
        expected = _ratio_mask(n_text, frames, vocab.num_codebooks, chunk["text_per_chunk"], chunk["frames_per_chunk"])
        actual = is_text[b, : int(lengths[b])].tolist()
        if actual != expected:
            p = next((i for i, (x, y) in enumerate(zip(actual, expected)) if x != y), min(len(actual), len(expected)))
            raise ValueError(
                f"ids[{b}, {p}] breaks the {chunk['text_per_chunk']} text : {chunk['frames_per_chunk']} frame pattern "
                f"({n_text} text ids, {int(lengths[b]) - n_text} speech ids)"
            )
        masks.append(actual)
    return _split_rows(ids, lengths, vocab, masks)
