"""LM-facing token layouts: pure functions from codes [B, K, F] to id sequences, with exact inverses.

Every layout takes either a `Tokens` or a raw int64 `codes` tensor [B, K, F] plus `lengths` [B]
(frames at or past `lengths[b]` are padding and ignored). Audio ids use one vocabulary range per
codebook: ``id = offset + k * codebook_size + code``, so `offset` can place them after a text
vocabulary (see `Vocabulary`). Results are frozen dataclasses; inverses return a `CodeBatch`
whose padding frames are zero, matching the `Tokens` convention (text + speech layouts return a
`TextAndCodes`). See docs/layouts.md for the table of strategies.
"""

from codec.layouts.checks import CodeBatch, TextAndCodes
from codec.layouts.coarse import CoarseFirstTokens, coarse_first, split_coarse_first
from codec.layouts.delay import DelayedTokens, delay, parallel, undelay
from codec.layouts.depth import DepthTokens, FrameGroups, depth, frame_inputs, from_within_frame, undepth, within_frame
from codec.layouts.flat import FlatTokens, flatten, unflatten
from codec.layouts.sequential import (
    TextSpeechTokens,
    ratio_interleave,
    sequential,
    split_ratio_interleave,
    split_sequential,
)
from codec.layouts.stages import TwoStageTokens, from_two_stage, join_stages, two_stage
from codec.layouts.streams import StreamTokens, padded_text, split_padded_text, split_word_aligned, word_aligned
from codec.layouts.text import InterleavedTokens, deinterleave, interleave_text
from codec.layouts.vocabulary import Vocabulary

__all__ = [
    "CoarseFirstTokens",
    "CodeBatch",
    "DelayedTokens",
    "DepthTokens",
    "FlatTokens",
    "FrameGroups",
    "InterleavedTokens",
    "StreamTokens",
    "TextAndCodes",
    "TextSpeechTokens",
    "TwoStageTokens",
    "Vocabulary",
    "coarse_first",
    "deinterleave",
    "delay",
    "depth",
    "flatten",
    "frame_inputs",
    "from_two_stage",
    "from_within_frame",
    "interleave_text",
    "join_stages",
    "padded_text",
    "parallel",
    "ratio_interleave",
    "sequential",
    "split_coarse_first",
    "split_padded_text",
    "split_ratio_interleave",
    "split_sequential",
    "split_word_aligned",
    "two_stage",
    "undelay",
    "undepth",
    "unflatten",
    "within_frame",
    "word_aligned",
]
