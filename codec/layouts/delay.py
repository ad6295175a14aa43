"""MusicGen-style delay pattern (`delay`), its all-zero-delay case (`parallel`) and their inverse (`undelay`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from codec.layouts.checks import CodeBatch, check_ids, check_lengths, check_pad
from codec.nn.masks import length_mask
from codec.tokens import Tokens


@dataclass(frozen=True)
class DelayedTokens:
    """Delay-pattern codes [B, K, F + max(delays)], bool `mask` True where a real code sits."""

    ids: torch.Tensor
    mask: torch.Tensor
    lengths: torch.Tensor
    delays: tuple[int, ...]
    pad_id: int


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
    codes = check_ids("codes", codes, 3)
    batch, books, frames = codes.shape
    lengths = check_lengths(lengths, batch, frames, codes.device, "frames")
    shifts = _check_delays(delays, books)
    check_pad("pad_id", pad_id, 0, 0)  # type check only: delay never looks at code values
    longest = max(shifts, default=0)
    steps = frames + longest
    source = torch.arange(steps, device=codes.device)[None, :] - torch.tensor(shifts, device=codes.device)[:, None]
    mask = (source[None] >= 0) & (source[None] < lengths[:, None, None])
    padded = torch.nn.functional.pad(codes, (0, 1))  # one spare column so the gather works when F == 0
    gathered = torch.gather(padded, 2, source.clamp(0, frames).expand(batch, books, steps))
    ids = gathered.masked_fill(~mask, pad_id)
    return DelayedTokens(ids, mask, lengths + longest, shifts, pad_id)


def parallel(
    codes: Tokens | torch.Tensor,
    lengths: torch.Tensor | None = None,
    *,
    pad_id: int = -1,
) -> DelayedTokens:
    """The parallel pattern: `delay` with every delay 0 (step t holds all K codes of frame t); invert with `undelay`."""
    books = codes.num_codebooks if isinstance(codes, Tokens) else check_ids("codes", codes, 3).shape[1]
    return delay(codes, lengths, delays=(0,) * books, pad_id=pad_id)


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
    ids = check_ids("ids", ids, 3)
    batch, books, steps = ids.shape
    shifts = _check_delays(delays, books)
    longest = max(shifts, default=0)
    if steps < longest:
        raise ValueError(f"ids has {steps} steps, fewer than max delay {longest}")
    lengths = check_lengths(lengths, batch, steps, ids.device, "steps")
    if batch and int(lengths.min()) < longest:
        raise ValueError(f"lengths must be >= max delay {longest}, got min {int(lengths.min())}")
    frames = steps - longest
    source = torch.arange(frames, device=ids.device)[None, :] + torch.tensor(shifts, device=ids.device)[:, None]
    codes = torch.gather(ids, 2, source.expand(batch, books, frames))
    out_lengths = lengths - longest
    codes = codes.masked_fill(~length_mask(out_lengths, frames)[:, None, :], 0)
    return CodeBatch(codes, out_lengths)
