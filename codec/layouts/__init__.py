"""LM-facing token layouts: pure functions from codes [B, K, F] to id sequences, with exact inverses.

Every layout takes either a `Tokens` or a raw int64 `codes` tensor [B, K, F] plus `lengths` [B]
(frames at or past `lengths[b]` are padding and ignored). Audio ids use one vocabulary range per
codebook: ``id = offset + k * codebook_size + code``, so `offset` can place them after a text
vocabulary (see `Vocabulary`). Results are frozen dataclasses; inverses return a `CodeBatch`
whose padding frames are zero, matching the `Tokens` convention.
"""

from codec.layouts._checks import CodeBatch
from codec.layouts.coarse import CoarseFirstTokens, coarse_first, split_coarse_first
from codec.layouts.delay import DelayedTokens, delay, undelay
from codec.layouts.flat import FlatTokens, flatten, unflatten
from codec.layouts.text import InterleavedTokens, deinterleave, interleave_text
from codec.layouts.vocabulary import Vocabulary

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
