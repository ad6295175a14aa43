"""Argument checks shared by the layouts (public, for new layout modules) and the `CodeBatch` inverses return."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import torch

from codec.nn.masks import length_mask
from codec.tokens import Tokens


@dataclass(frozen=True)
class CodeBatch:
    """Codes int64 [B, K, F] (zeros past `lengths[b]`) and valid frames `lengths` [B]."""

    codes: torch.Tensor
    lengths: torch.Tensor


def check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return value


def check_ids(name: str, ids: object, dim: int) -> torch.Tensor:
    if not isinstance(ids, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(ids).__name__}")
    if ids.dim() != dim:
        shape = "[B, K, F]" if dim == 3 else "[B, N]"
        raise ValueError(f"{name} must be {shape} ({dim} dims), got shape {tuple(ids.shape)}")
    if ids.dtype != torch.int64:
        raise ValueError(f"{name} must be int64, got {ids.dtype}")
    return ids


def check_lengths(lengths: object, batch: int, maximum: int, device: torch.device, unit: str) -> torch.Tensor:
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


def unpack(
    codes: Tokens | torch.Tensor, lengths: torch.Tensor | None, codebook_size: int | None
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Codes, int64 lengths on the codes' device, and codebook size from a Tokens or raw arguments."""
    if isinstance(codes, Tokens):
        if lengths is not None:
            raise ValueError("pass lengths only with a raw codes tensor; a Tokens carries its own")
        if codebook_size is not None and codebook_size != codes.codebook_size:
            raise ValueError(f"codebook_size {codebook_size} disagrees with the Tokens' {codes.codebook_size}")
        codes, lengths, codebook_size = codes.codes, codes.lengths, codes.codebook_size
    codes = check_ids("codes", codes, 3)
    if codebook_size is None:
        raise ValueError("codebook_size is required when passing a raw codes tensor")
    check_int("codebook_size", codebook_size, 1)
    lengths = check_lengths(lengths, codes.shape[0], codes.shape[2], codes.device, "frames")
    check_code_range(codes, lengths, codebook_size)
    return codes, lengths, codebook_size


def offset_groups(
    codes: Tokens | torch.Tensor, lengths: torch.Tensor | None, codebook_size: int | None, offset: int, pad_id: int
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Validated per-frame id groups [B, F, K] (codebook k's ids start at offset + k * size), lengths and size."""
    codes, lengths, size = unpack(codes, lengths, codebook_size)
    check_int("offset", offset, 0)
    books = codes.shape[1]
    check_pad("pad_id", pad_id, offset, offset + books * size)
    starts = offset + size * torch.arange(books, device=codes.device, dtype=torch.int64)
    return (codes + starts[None, :, None]).transpose(1, 2), lengths, size


def check_code_range(codes: torch.Tensor, lengths: torch.Tensor, codebook_size: int) -> None:
    bad = length_mask(lengths, codes.shape[2])[:, None, :] & ((codes < 0) | (codes >= codebook_size))
    if bool(bad.any()):
        b, k, f = (int(i) for i in bad.nonzero()[0])
        raise ValueError(f"codes[{b}, {k}, {f}] = {int(codes[b, k, f])} is outside [0, {codebook_size})")


def check_pad(name: str, pad_id: int, low: int, high: int) -> None:
    if isinstance(pad_id, bool) or not isinstance(pad_id, int):
        raise ValueError(f"{name} must be an int, got {pad_id!r}")
    if low <= pad_id < high:
        raise ValueError(f"{name} {pad_id} collides with the audio id range [{low}, {high}); pick an id outside it")


def first_bad(bad: torch.Tensor) -> tuple[int, int]:
    b, p = (int(i) for i in bad.nonzero()[0])
    return b, p


class IdsResult(Protocol):
    """What unpack_ids reads from a layout result (FlatTokens, InterleavedTokens)."""

    @property
    def ids(self) -> torch.Tensor: ...
    @property
    def lengths(self) -> torch.Tensor: ...
    @property
    def num_codebooks(self) -> int: ...
    @property
    def codebook_size(self) -> int: ...
    @property
    def offset(self) -> int: ...


def unpack_ids(
    source: object,
    result_type: type[IdsResult],
    lengths: torch.Tensor | None,
    num_codebooks: int | None,
    codebook_size: int | None,
    offset: int,
) -> tuple[torch.Tensor, torch.Tensor, int, int, int]:
    """Validated (ids [B, N], lengths, num_codebooks, codebook_size, offset) of a layout result or raw ids."""
    if isinstance(source, result_type):
        if lengths is not None or num_codebooks is not None or codebook_size is not None:
            raise ValueError("pass lengths/num_codebooks/codebook_size only with a raw ids tensor")
        ids, lengths = source.ids, source.lengths
        books, size, offset = source.num_codebooks, source.codebook_size, source.offset
    else:
        ids, books, size = source, num_codebooks, codebook_size
        if books is None or size is None:
            raise ValueError("num_codebooks and codebook_size are required with a raw ids tensor")
    ids = check_ids("ids", ids, 2)
    check_int("num_codebooks", books, 1)
    check_int("codebook_size", size, 1)
    check_int("offset", offset, 0)
    return ids, check_lengths(lengths, ids.shape[0], ids.shape[1], ids.device, "ids"), books, size, offset


def check_frame_rate(frame_rate: object) -> float:
    if isinstance(frame_rate, bool) or not isinstance(frame_rate, (int, float)) or frame_rate <= 0:
        raise ValueError(f"frame_rate must be a positive number (frames per second), got {frame_rate!r}")
    return float(frame_rate)


def parse_word(b: int, w: int, word: object) -> tuple[float, float, list[int]]:
    """Validated (start_s, end_s, text ids) of alignments[b][w]."""
    try:
        start, end, word_ids = word  # type: ignore[misc]
        start, end = float(start), float(end)
        word_ids = [int(t) for t in word_ids]
    except (TypeError, ValueError):
        raise ValueError(f"alignments[{b}][{w}] must be (start_s, end_s, [text ids]), got {word!r}") from None
    if not 0 <= start <= end:
        raise ValueError(f"alignments[{b}][{w}] needs 0 <= start_s <= end_s, got ({start}, {end})")
    return start, end, word_ids


def anchor_frame(start: float, frame_rate: float) -> int:
    """First frame whose start time f / frame_rate is at or after `start` (1 us tolerance)."""
    return math.ceil(start * frame_rate - 1e-6)


@dataclass(frozen=True)
class TextAndCodes:
    """What a text + speech layout held: per item its text ids, its codes, and (word-aligned only) its words.

    `words[b]` lists `(first_frame, text ids)` per word; it is None for layouts without word timing.
    """

    texts: tuple[tuple[int, ...], ...]
    codes: CodeBatch
    words: tuple[tuple[tuple[int, tuple[int, ...]], ...], ...] | None = None


def check_text(name: str, ids: object, text_vocab_size: int) -> list[int]:
    """Text ids as ints, each in [0, text_vocab_size)."""
    try:
        out = [int(t) for t in ids]  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a sequence of int text ids, got {ids!r}") from None
    for t in out:
        if not 0 <= t < text_vocab_size:
            raise ValueError(f"{name} has id {t}, outside the text range [0, {text_vocab_size}) of the Vocabulary")
    return out


def check_batch_list(name: str, items: object, batch: int) -> list:
    if isinstance(items, (str, bytes, torch.Tensor)) or not hasattr(items, "__len__") or len(items) != batch:  # type: ignore[arg-type]
        got = len(items) if hasattr(items, "__len__") else type(items).__name__  # type: ignore[arg-type]
        raise ValueError(f"{name} must have one entry per item ({batch}), got {got}")
    return list(items)  # type: ignore[call-overload]


def audio_codes(ids: torch.Tensor, lengths: torch.Tensor, codebook_size: int, offset: int, where: str) -> torch.Tensor:
    """Codes [B, K, F] of audio ids [B, K, F] (zeros past lengths); `where` formats an offending (b, k, f)."""
    low = (offset + codebook_size * torch.arange(ids.shape[1], device=ids.device))[None, :, None]
    valid = length_mask(lengths, ids.shape[2])[:, None, :]
    bad = valid & ((ids < low) | (ids >= low + codebook_size))
    if bool(bad.any()):
        b, k, f = (int(i) for i in bad.nonzero()[0])
        lo = int(low[0, k, 0])
        raise ValueError(
            f"{where.format(b=b, k=k, f=f)} = {int(ids[b, k, f])} is outside codebook {k}'s range "
            f"[{lo}, {lo + codebook_size})"
        )
    return (ids - low).masked_fill(~valid, 0).contiguous()
