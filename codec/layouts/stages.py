"""Per-stage views of coarse -> fine generation with two models (AudioLM / SPEAR-TTS style).

Stage 1 models the semantic ids alone (`two_stage(...).coarse`, a `FlatTokens`); stage 2 reads the
semantic ids as a prompt and predicts the acoustic ids (`.fine`, the `coarse_first` sequence, with
`fine_target` marking where its loss goes). `join_stages` rebuilds codes [B, K, F] from what the two
models produce.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from codec.layouts.checks import CodeBatch, check_ids, check_lengths, unpack
from codec.layouts.coarse import CoarseFirstTokens, coarse_first, split_coarse_first
from codec.layouts.flat import FlatTokens, flatten
from codec.nn.masks import length_mask
from codec.tokens import Tokens


@dataclass(frozen=True)
class TwoStageTokens:
    """Stage 1 sequence (`coarse`: semantic ids), stage 2 sequence (`fine`) and its loss mask `fine_target` [B, N]."""

    coarse: FlatTokens
    fine: CoarseFirstTokens
    fine_target: torch.Tensor
    prompt_lengths: torch.Tensor


def two_stage(
    codes: Tokens | torch.Tensor,
    lengths: torch.Tensor | None = None,
    *,
    num_semantic_codebooks: int | None = None,
    codebook_size: int | None = None,
    offset: int = 0,
    sep_id: int,
    pad_id: int = -1,
) -> TwoStageTokens:
    """Both stages' sequences: semantic ids alone, and semantic prompt + `sep_id` + acoustic target ids."""
    if sep_id is None:
        raise ValueError("two_stage needs a sep_id: it ends the stage-2 prompt")
    fine = coarse_first(
        codes,
        lengths,
        num_semantic_codebooks=num_semantic_codebooks,
        codebook_size=codebook_size,
        offset=offset,
        sep_id=sep_id,
        pad_id=pad_id,
    )
    raw, frames, size = unpack(codes, lengths, fine.codebook_size)
    semantic = fine.num_semantic_codebooks
    coarse = flatten(raw[:, :semantic], frames, codebook_size=size, offset=offset, pad_id=pad_id)
    prompt = semantic * frames + 1
    position = torch.arange(fine.ids.shape[1], device=fine.ids.device)[None, :]
    target = (position >= prompt[:, None]) & length_mask(fine.lengths, fine.ids.shape[1])
    return TwoStageTokens(coarse, fine, target, prompt)


def from_two_stage(stages: TwoStageTokens) -> CodeBatch:
    """Invert `two_stage` (reads the stage-2 sequence, which holds every codebook, and checks stage 1 agrees)."""
    if not isinstance(stages, TwoStageTokens):
        raise ValueError(f"from_two_stage takes a TwoStageTokens, got {type(stages).__name__}")
    out = split_coarse_first(stages.fine)
    semantic = stages.fine.num_semantic_codebooks
    if not torch.equal(
        stages.coarse.ids,
        flatten(
            out.codes[:, :semantic],
            out.lengths,
            codebook_size=stages.fine.codebook_size,
            offset=stages.fine.offset,
            pad_id=stages.coarse.pad_id,
        ).ids,
    ):
        raise ValueError("the stage-1 ids disagree with the semantic ids in the stage-2 sequence")
    return out


def join_stages(semantic: CodeBatch, acoustic: CodeBatch) -> CodeBatch:
    """Stack stage-1 semantic codes [B, S, F] over stage-2 acoustic codes [B, K - S, F] into codes [B, K, F]."""
    for name, part in (("semantic", semantic), ("acoustic", acoustic)):
        if not isinstance(part, CodeBatch):
            raise ValueError(
                f"{name} must be a CodeBatch (e.g. from unflatten / split_coarse_first), got {type(part).__name__}"
            )
        check_ids(f"{name}.codes", part.codes, 3)
        check_lengths(part.lengths, part.codes.shape[0], part.codes.shape[2], part.codes.device, "frames")
    if semantic.codes.shape[0] != acoustic.codes.shape[0]:
        raise ValueError(f"batch sizes differ: semantic {semantic.codes.shape[0]}, acoustic {acoustic.codes.shape[0]}")
    if not torch.equal(semantic.lengths, acoustic.lengths):
        b = int((semantic.lengths != acoustic.lengths).nonzero()[0])
        raise ValueError(
            f"item {b} has {int(semantic.lengths[b])} semantic frames but {int(acoustic.lengths[b])} acoustic frames"
        )
    frames = max(semantic.codes.shape[2], acoustic.codes.shape[2])
    lengths = semantic.lengths.to(torch.int64)
    parts = [torch.nn.functional.pad(p.codes, (0, frames - p.codes.shape[2])) for p in (semantic, acoustic)]
    codes = torch.cat(parts, 1).masked_fill(~length_mask(lengths, frames)[:, None, :], 0)
    return CodeBatch(codes, lengths)
