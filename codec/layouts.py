"""LM-facing token layouts: pure functions from codes [B, K, F] to id sequences, with exact inverses.

Every layout takes either a `Tokens` or a raw int64 `codes` tensor [B, K, F] plus `lengths` [B]
(frames at or past `lengths[b]` are padding and ignored). Audio ids use one vocabulary range per
codebook: ``id = offset + k * codebook_size + code``, so `offset` can place them after a text
vocabulary (see `Vocabulary`). Results are frozen dataclasses; inverses return a `CodeBatch`
whose padding frames are zero, matching the `Tokens` convention.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from codec.tokens import Tokens

__all__ = [
    "CodeBatch",
    "CoarseFirstTokens",
    "DelayedTokens",
    "FlatTokens",
    "InterleavedTokens",
    "Vocabulary",
    "coarse_first",
    "deinterleave",
    "delay",
    "flatten",
    "interleave_text",
    "split_coarse_first",
    "undelay",
    "unflatten",
]

Alignment = Sequence[tuple[float, float, Sequence[int]]]


@dataclass(frozen=True)
class CodeBatch:
    """Codes int64 [B, K, F] (zeros past `lengths[b]`) and valid frames `lengths` [B]."""

    codes: torch.Tensor
    lengths: torch.Tensor


@dataclass(frozen=True)
class FlatTokens:
    """Frame-major interleaved ids [B, K * F]; `lengths` counts ids (valid frames * K)."""

    ids: torch.Tensor
    lengths: torch.Tensor
    num_codebooks: int
    codebook_size: int
    offset: int
    pad_id: int


@dataclass(frozen=True)
class DelayedTokens:
    """Delay-pattern codes [B, K, F + max(delays)], bool `mask` True where a real code sits."""

    ids: torch.Tensor
    mask: torch.Tensor
    lengths: torch.Tensor
    delays: tuple[int, ...]
    pad_id: int


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


# --------------------------------------------------------------------------- validation helpers


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return value


def _check_ids(name: str, ids: object, dim: int) -> torch.Tensor:
    if not isinstance(ids, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(ids).__name__}")
    if ids.dim() != dim:
        shape = "[B, K, F]" if dim == 3 else "[B, N]"
        raise ValueError(f"{name} must be {shape} ({dim} dims), got shape {tuple(ids.shape)}")
    if ids.dtype != torch.int64:
        raise ValueError(f"{name} must be int64, got {ids.dtype}")
    return ids


def _check_lengths(lengths: object, batch: int, maximum: int, device: torch.device, unit: str) -> torch.Tensor:
    if lengths is None:
        raise ValueError("lengths [B] is required when passing a raw tensor")
    if not isinstance(lengths, torch.Tensor):
        raise ValueError(f"lengths must be a torch.Tensor, got {type(lengths).__name__}")
    if lengths.shape != (batch,):
        raise ValueError(f"lengths must have shape [{batch}], got {tuple(lengths.shape)}")
    if lengths.dtype.is_floating_point or lengths.dtype.is_complex or lengths.dtype == torch.bool:
        raise ValueError(f"lengths must be an integer tensor, got {lengths.dtype}")
    lengths = lengths.to(device=device, dtype=torch.int64)
    if batch and (int(lengths.min()) < 0 or int(lengths.max()) > maximum):
        raise ValueError(
            f"lengths must be in [0, {maximum}] {unit}, got min {int(lengths.min())} max {int(lengths.max())}"
        )
    return lengths


def _unpack(
    codes: Tokens | torch.Tensor, lengths: torch.Tensor | None, codebook_size: int | None
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Codes, int64 lengths on the codes' device, and codebook size from a Tokens or raw arguments."""
    if isinstance(codes, Tokens):
        if lengths is not None:
            raise ValueError("pass lengths only with a raw codes tensor; a Tokens carries its own")
        if codebook_size is not None and codebook_size != codes.codebook_size:
            raise ValueError(f"codebook_size {codebook_size} disagrees with the Tokens' {codes.codebook_size}")
        codes, lengths, codebook_size = codes.codes, codes.lengths, codes.codebook_size
    codes = _check_ids("codes", codes, 3)
    if codebook_size is None:
        raise ValueError("codebook_size is required when passing a raw codes tensor")
    _check_int("codebook_size", codebook_size, 1)
    lengths = _check_lengths(lengths, codes.shape[0], codes.shape[2], codes.device, "frames")
    _check_code_range(codes, lengths, codebook_size)
    return codes, lengths, codebook_size


def _frame_mask(lengths: torch.Tensor, frames: int) -> torch.Tensor:
    return torch.arange(frames, device=lengths.device)[None, :] < lengths[:, None]


def _check_code_range(codes: torch.Tensor, lengths: torch.Tensor, codebook_size: int) -> None:
    bad = _frame_mask(lengths, codes.shape[2])[:, None, :] & ((codes < 0) | (codes >= codebook_size))
    if bool(bad.any()):
        b, k, f = (int(i) for i in bad.nonzero()[0])
        raise ValueError(f"codes[{b}, {k}, {f}] = {int(codes[b, k, f])} is outside [0, {codebook_size})")


def _check_pad(name: str, pad_id: int, low: int, high: int) -> None:
    if isinstance(pad_id, bool) or not isinstance(pad_id, int):
        raise ValueError(f"{name} must be an int, got {pad_id!r}")
    if low <= pad_id < high:
        raise ValueError(f"{name} {pad_id} collides with the audio id range [{low}, {high}); pick an id outside it")


def _first_bad(bad: torch.Tensor) -> tuple[int, int]:
    b, p = (int(i) for i in bad.nonzero()[0])
    return b, p


# --------------------------------------------------------------------------- flatten


def flatten(
    codes: Tokens | torch.Tensor,
    lengths: torch.Tensor | None = None,
    *,
    codebook_size: int | None = None,
    offset: int = 0,
    pad_id: int = -1,
) -> FlatTokens:
    """Interleave codebooks frame-major (f0k0, f0k1, ..., f1k0, ...) with per-codebook id offsets."""
    codes, lengths, size = _unpack(codes, lengths, codebook_size)
    _check_int("offset", offset, 0)
    batch, books, frames = codes.shape
    _check_pad("pad_id", pad_id, offset, offset + books * size)
    starts = offset + size * torch.arange(books, device=codes.device, dtype=torch.int64)
    ids = (codes + starts[None, :, None]).transpose(1, 2).reshape(batch, frames * books)
    flat_lengths = lengths * books
    ids = ids.masked_fill(~_frame_mask(flat_lengths, frames * books), pad_id)
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
    if isinstance(flat, FlatTokens):
        if lengths is not None or num_codebooks is not None or codebook_size is not None:
            raise ValueError("pass lengths/num_codebooks/codebook_size only with a raw ids tensor")
        ids, lengths, books, size, offset = flat.ids, flat.lengths, flat.num_codebooks, flat.codebook_size, flat.offset
    else:
        ids, books, size = flat, num_codebooks, codebook_size
        if books is None or size is None:
            raise ValueError("num_codebooks and codebook_size are required with a raw ids tensor")
    ids = _check_ids("ids", ids, 2)
    _check_int("num_codebooks", books, 1)
    _check_int("codebook_size", size, 1)
    _check_int("offset", offset, 0)
    batch, width = ids.shape
    lengths = _check_lengths(lengths, batch, width, ids.device, "ids")
    if bool((lengths % books != 0).any()):
        b = int((lengths % books != 0).nonzero()[0])
        raise ValueError(f"lengths[{b}] = {int(lengths[b])} is not a multiple of num_codebooks {books}")
    frames = math.ceil(width / books)
    ids = torch.nn.functional.pad(ids, (0, frames * books - width))
    position = torch.arange(frames * books, device=ids.device)
    low = offset + size * (position % books)
    valid = _frame_mask(lengths, frames * books)
    bad = valid & ((ids < low) | (ids >= low + size))
    if bool(bad.any()):
        b, p = _first_bad(bad)
        lo = int(low[p])
        raise ValueError(
            f"ids[{b}, {p}] = {int(ids[b, p])} is outside codebook {p % books}'s range [{lo}, {lo + size})"
        )
    codes = (ids - low).masked_fill(~valid, 0).reshape(batch, frames, books).transpose(1, 2).contiguous()
    return CodeBatch(codes, lengths // books)


# --------------------------------------------------------------------------- delay pattern


def _check_delays(delays: Sequence[int] | None, books: int) -> tuple[int, ...]:
    if delays is None:
        return tuple(range(books))
    delays = tuple(delays)
    if len(delays) != books or any(isinstance(d, bool) or not isinstance(d, int) or d < 0 for d in delays):
        raise ValueError(f"delays must be {books} non-negative ints (one per codebook), got {delays!r}")
    return delays


def delay(
    codes: Tokens | torch.Tensor,
    lengths: torch.Tensor | None = None,
    *,
    delays: Sequence[int] | None = None,
    pad_id: int = -1,
) -> DelayedTokens:
    """Shift codebook k right by `delays[k]` (default k), MusicGen-style; holes hold `pad_id`."""
    if isinstance(codes, Tokens):
        if lengths is not None:
            raise ValueError("pass lengths only with a raw codes tensor; a Tokens carries its own")
        codes, lengths = codes.codes, codes.lengths
    codes = _check_ids("codes", codes, 3)
    batch, books, frames = codes.shape
    lengths = _check_lengths(lengths, batch, frames, codes.device, "frames")
    shifts = _check_delays(delays, books)
    _check_pad("pad_id", pad_id, 0, 0)  # type check only: delay never looks at code values
    longest = max(shifts, default=0)
    steps = frames + longest
    source = torch.arange(steps, device=codes.device)[None, :] - torch.tensor(shifts, device=codes.device)[:, None]
    mask = (source[None] >= 0) & (source[None] < lengths[:, None, None])
    padded = torch.nn.functional.pad(codes, (0, 1))  # one spare column so the gather works when F == 0
    gathered = torch.gather(padded, 2, source.clamp(0, frames).expand(batch, books, steps))
    ids = gathered.masked_fill(~mask, pad_id)
    return DelayedTokens(ids, mask, lengths + longest, shifts, pad_id)


def undelay(
    delayed: DelayedTokens | torch.Tensor,
    lengths: torch.Tensor | None = None,
    *,
    delays: Sequence[int] | None = None,
) -> CodeBatch:
    """Invert `delay`: realign codebooks to codes [B, K, T - max(delays)]; hole contents are ignored."""
    if isinstance(delayed, DelayedTokens):
        if lengths is not None or delays is not None:
            raise ValueError("pass lengths/delays only with a raw ids tensor")
        ids, lengths, delays = delayed.ids, delayed.lengths, delayed.delays
    else:
        ids = delayed
    ids = _check_ids("ids", ids, 3)
    batch, books, steps = ids.shape
    shifts = _check_delays(delays, books)
    longest = max(shifts, default=0)
    if steps < longest:
        raise ValueError(f"ids has {steps} steps, fewer than max delay {longest}")
    lengths = _check_lengths(lengths, batch, steps, ids.device, "steps")
    if batch and int(lengths.min()) < longest:
        raise ValueError(f"lengths must be >= max delay {longest}, got min {int(lengths.min())}")
    frames = steps - longest
    source = torch.arange(frames, device=ids.device)[None, :] + torch.tensor(shifts, device=ids.device)[:, None]
    codes = torch.gather(ids, 2, source.expand(batch, books, frames))
    out_lengths = lengths - longest
    codes = codes.masked_fill(~_frame_mask(out_lengths, frames)[:, None, :], 0)
    return CodeBatch(codes, out_lengths)


# --------------------------------------------------------------------------- coarse first


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
    codes, lengths, size = _unpack(codes, lengths, codebook_size)
    batch, books, frames = codes.shape
    if num_semantic_codebooks is None:
        raise ValueError("num_semantic_codebooks is required when passing a raw codes tensor")
    semantic = _check_int("num_semantic_codebooks", num_semantic_codebooks, 1)
    if semantic > books:
        raise ValueError(f"num_semantic_codebooks must be in [1, {books}], got {semantic}")
    _check_int("offset", offset, 0)
    high = offset + books * size
    _check_pad("pad_id", pad_id, offset, high)
    if sep_id is not None:
        _check_pad("sep_id", sep_id, offset, high)
    sep = int(sep_id is not None)
    width = books * frames + sep
    pos = _coarse_positions(lengths, books, semantic, frames, sep)
    valid = _frame_mask(lengths, frames)[:, None, :].expand(batch, books, frames)
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
    ids = _check_ids("ids", ids, 2)
    _check_int("num_codebooks", books, 1)
    _check_int("num_semantic_codebooks", semantic, 1)
    if semantic > books:
        raise ValueError(f"num_semantic_codebooks must be in [1, {books}], got {semantic}")
    _check_int("codebook_size", size, 1)
    _check_int("offset", offset, 0)
    batch, width = ids.shape
    sep = int(sep_id is not None)
    lengths = _check_lengths(lengths, batch, width, ids.device, "ids")
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
    valid = _frame_mask(frames_per_item, frames)[:, None, :].expand(batch, books, frames)
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


# --------------------------------------------------------------------------- text interleaving


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
    codes, lengths, size = _unpack(codes, lengths, codebook_size)
    if frame_rate is None or isinstance(frame_rate, bool) or not isinstance(frame_rate, (int, float)) or frame_rate <= 0:
        raise ValueError(f"frame_rate must be a positive number (frames per second), got {frame_rate!r}")
    _check_int("offset", offset, 0)
    batch, books, frames = codes.shape
    high = offset + books * size
    _check_pad("pad_id", pad_id, offset, high)
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
        audio_pos = (before[:, None] + books * torch.arange(n, device=codes.device)[:, None]
                     + torch.arange(books, device=codes.device)[None, :])
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
        try:
            start, end, word_ids = word
            start, end = float(start), float(end)
            word_ids = [int(t) for t in word_ids]
        except (TypeError, ValueError):
            raise ValueError(f"alignments[{b}][{w}] must be (start_s, end_s, [text ids]), got {word!r}") from None
        if not 0 <= start <= end:
            raise ValueError(f"alignments[{b}][{w}] needs 0 <= start_s <= end_s, got ({start}, {end})")
        for t in word_ids:
            if t < 0 or low <= t < high:
                raise ValueError(
                    f"alignments[{b}][{w}] text id {t} must be >= 0 and outside the audio id range [{low}, {high})"
                )
        anchors.append(min(math.ceil(start * frame_rate - 1e-6), frames))
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
    if isinstance(interleaved, InterleavedTokens):
        if lengths is not None or num_codebooks is not None or codebook_size is not None:
            raise ValueError("pass lengths/num_codebooks/codebook_size only with a raw ids tensor")
        ids, lengths = interleaved.ids, interleaved.lengths
        books, size, offset = interleaved.num_codebooks, interleaved.codebook_size, interleaved.offset
    else:
        ids, books, size = interleaved, num_codebooks, codebook_size
        if books is None or size is None:
            raise ValueError("num_codebooks and codebook_size are required with a raw ids tensor")
    ids = _check_ids("ids", ids, 2)
    _check_int("num_codebooks", books, 1)
    _check_int("codebook_size", size, 1)
    _check_int("offset", offset, 0)
    batch, width = ids.shape
    lengths = _check_lengths(lengths, batch, width, ids.device, "ids")
    valid = _frame_mask(lengths, width)
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


# --------------------------------------------------------------------------- vocabulary

_SPECIAL_NAME = re.compile(r"[a-z][a-z0-9_]*\Z")


@dataclass(frozen=True)
class Vocabulary:
    """Joint id space: [text ids | codebook 0 | ... | codebook K-1 | special tokens]."""

    num_codebooks: int
    codebook_size: int
    text_vocab_size: int = 0
    special_tokens: tuple[str, ...] = ("bos", "eos", "pad", "sep")
    prefix: str = "sc"

    def __post_init__(self) -> None:
        _check_int("num_codebooks", self.num_codebooks, 1)
        _check_int("codebook_size", self.codebook_size, 1)
        _check_int("text_vocab_size", self.text_vocab_size, 0)
        if isinstance(self.special_tokens, str) or not all(
            isinstance(s, str) and _SPECIAL_NAME.match(s) for s in self.special_tokens
        ):
            raise ValueError(f"special_tokens must be names matching [a-z][a-z0-9_]*, got {self.special_tokens!r}")
        if len(set(self.special_tokens)) != len(self.special_tokens):
            raise ValueError(f"special_tokens must be unique, got {self.special_tokens!r}")
        object.__setattr__(self, "special_tokens", tuple(self.special_tokens))
        if not isinstance(self.prefix, str) or not re.fullmatch(r"[A-Za-z0-9_]+", self.prefix):
            raise ValueError(f"prefix must be a non-empty [A-Za-z0-9_] string, got {self.prefix!r}")

    @classmethod
    def from_tokens(cls, tokens: Tokens, text_vocab_size: int = 0, **kwargs: object) -> Vocabulary:
        """Vocabulary sized for `tokens` (its K and codebook size)."""
        return cls(tokens.num_codebooks, tokens.codebook_size, text_vocab_size, **kwargs)  # type: ignore[arg-type]

    @property
    def audio_offset(self) -> int:
        """First audio id (codebook 0, code 0); pass as `offset` to the layout functions."""
        return self.text_vocab_size

    @property
    def special_offset(self) -> int:
        """First special-token id (right after the codebook ranges)."""
        return self.text_vocab_size + self.num_codebooks * self.codebook_size

    @property
    def size(self) -> int:
        """Total number of ids."""
        return self.special_offset + len(self.special_tokens)

    def codebook_offset(self, k: int) -> int:
        """Id of code 0 in codebook `k`."""
        if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k < self.num_codebooks:
            raise ValueError(f"codebook index must be in [0, {self.num_codebooks}), got {k!r}")
        return self.text_vocab_size + k * self.codebook_size

    def id_of(self, k: int, code: int | torch.Tensor) -> int | torch.Tensor:
        """Id of `code` (an int or an integer tensor) in codebook `k`."""
        start = self.codebook_offset(k)
        if isinstance(code, torch.Tensor):
            if code.numel() and (int(code.min()) < 0 or int(code.max()) >= self.codebook_size):
                raise ValueError(f"codes must be in [0, {self.codebook_size}), got [{int(code.min())}, {int(code.max())}]")
            return code.to(torch.int64) + start
        if isinstance(code, bool) or not isinstance(code, int) or not 0 <= code < self.codebook_size:
            raise ValueError(f"code must be in [0, {self.codebook_size}), got {code!r}")
        return start + code

    def special_id(self, name: str) -> int:
        """Id of special token `name`."""
        if name not in self.special_tokens:
            raise ValueError(f"no special token {name!r}; have {list(self.special_tokens)}")
        return self.special_offset + self.special_tokens.index(name)

    @property
    def bos_id(self) -> int:
        """Id of the `bos` special token."""
        return self.special_id("bos")

    @property
    def eos_id(self) -> int:
        """Id of the `eos` special token."""
        return self.special_id("eos")

    @property
    def pad_id(self) -> int:
        """Id of the `pad` special token."""
        return self.special_id("pad")

    @property
    def sep_id(self) -> int:
        """Id of the `sep` special token."""
        return self.special_id("sep")

    def parse(self, token_id: int) -> tuple[int, int] | str:
        """(codebook, code) of an audio id, or the name of a special id; text ids raise ValueError."""
        if isinstance(token_id, bool) or not isinstance(token_id, int) or not 0 <= token_id < self.size:
            raise ValueError(f"id must be an int in [0, {self.size}), got {token_id!r}")
        if token_id < self.text_vocab_size:
            raise ValueError(f"id {token_id} is a text id (below text_vocab_size {self.text_vocab_size})")
        if token_id >= self.special_offset:
            return self.special_tokens[token_id - self.special_offset]
        return divmod(token_id - self.text_vocab_size, self.codebook_size)

    def token_string(self, token_id: int) -> str:
        """String form of an audio or special id, e.g. `<|sc_0_123|>` or `<|sc_bos|>`."""
        parsed = self.parse(token_id)
        if isinstance(parsed, str):
            return f"<|{self.prefix}_{parsed}|>"
        return f"<|{self.prefix}_{parsed[0]}_{parsed[1]}|>"

    def token_strings(self) -> list[str]:
        """Strings for ids `audio_offset` .. `size - 1` in id order (to add to a Hugging Face tokenizer)."""
        books = [
            f"<|{self.prefix}_{k}_{c}|>" for k in range(self.num_codebooks) for c in range(self.codebook_size)
        ]
        return books + [f"<|{self.prefix}_{name}|>" for name in self.special_tokens]
