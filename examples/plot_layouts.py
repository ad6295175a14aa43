#!/usr/bin/env python
"""Draw every codec.layouts strategy on a small example (K = 3 codebooks, F = 4 frames) as a PNG.

Each cell is one id the sequence model sees, computed by the layout functions themselves:
colour = codebook, number = frame, `t0..` = text ids, blank = pad, `sep` = separator. Rows are the
parallel streams of one step (one row: a single stream).

    python examples/plot_layouts.py docs/img/layouts.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch
from matplotlib.patches import Rectangle

from codec.layouts import (
    Vocabulary,
    coarse_first,
    delay,
    depth,
    flatten,
    padded_text,
    parallel,
    ratio_interleave,
    sequential,
    word_aligned,
)

BOOKS, FRAMES = 3, 4
COLOURS = ["#4c72b0", "#dd8452", "#55a868"]
TEXT_COLOUR = "#c8c8c8"


def panels() -> list[tuple[str, torch.Tensor]]:
    """(title, ids [rows, steps]) per layout; codes[k, f] = f so that every audio id names its frame."""
    vocab = Vocabulary(BOOKS, FRAMES, text_vocab_size=4)
    codes = torch.arange(FRAMES).repeat(1, BOOKS, 1)
    lengths = torch.tensor([FRAMES])
    audio = {"codebook_size": FRAMES, "offset": vocab.audio_offset, "pad_id": vocab.pad_id}
    words = [[(0.0, 0.02, [0]), (0.04, 0.08, [1, 2])]]  # two words at 50 Hz: frame 0 and frame 2
    starts = torch.tensor([vocab.codebook_offset(k) for k in range(BOOKS)])[:, None]

    def as_ids(pattern) -> torch.Tensor:  # parallel/delay hold raw codes: add codebook offsets to colour them
        return torch.where(pattern.mask[0], pattern.ids[0] + starts, vocab.pad_id)

    return [
        ("flatten: K·F ids, frame-major", flatten(codes, lengths, **audio).ids),
        ("parallel: F steps of K ids (delays all 0)", as_ids(parallel(codes, lengths))),
        ("delay: F + K - 1 steps of K ids (codebook k shifted by k)", as_ids(delay(codes, lengths))),
        (
            "coarse_first / two_stage: semantic ids, sep, acoustic ids",
            coarse_first(codes, lengths, num_semantic_codebooks=1, sep_id=vocab.sep_id, **audio).ids,
        ),
        (
            "depth: temporal model over frames (columns), depth model down each column",
            depth(codes, lengths, **audio).ids[0].T,
        ),
        ("sequential: text, sep, speech", sequential(codes, [[0, 1, 2, 3]], lengths, vocab=vocab).ids),
        (
            "ratio_interleave 2 text : 1 frame",
            ratio_interleave(codes, [[0, 1, 2, 3]], lengths, vocab=vocab, text_per_chunk=2, frames_per_chunk=1).ids,
        ),
        ("padded_text: text row left-aligned, padded to F", padded_text(codes, [[0, 1]], lengths, vocab=vocab).ids[0]),
        (
            "word_aligned: each word from its first frame, padded to the next",
            word_aligned(codes, words, lengths, vocab=vocab, frame_rate=50).ids[0],
        ),
    ], vocab


def draw(ax: plt.Axes, title: str, ids: torch.Tensor, vocab: Vocabulary, width: int) -> None:
    for r, row in enumerate(ids.tolist()):
        for s, token in enumerate(row):
            y = ids.shape[0] - 1 - r
            if token < vocab.text_vocab_size:
                colour, label = TEXT_COLOUR, f"t{token}"
            else:
                parsed = vocab.parse(token)
                if isinstance(parsed, str):
                    colour, label = ("white", "") if parsed == "pad" else ("#8172b3", parsed)
                else:
                    colour, label = COLOURS[parsed[0]], str(parsed[1])
            ax.add_patch(Rectangle((s, y), 0.92, 0.92, facecolor=colour, edgecolor="#555555", linewidth=0.6))
            ax.text(
                s + 0.46,
                y + 0.46,
                label,
                ha="center",
                va="center",
                fontsize=8,
                color="black" if colour in (TEXT_COLOUR, "white") else "white",
            )
    ax.set_xlim(-0.1, width)
    ax.set_ylim(-0.1, ids.shape[0])
    ax.set_aspect("equal")
    ax.set_anchor("W")
    ax.axis("off")
    ax.set_title(title, loc="left", fontsize=9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    items, vocab = panels()
    width = max(ids.shape[-1] for _, ids in items) + 1
    items = [(title, ids if ids.dim() == 2 else ids[None]) for title, ids in items]
    rows = [ids.shape[0] + 0.1 for _, ids in items]  # same scale in every panel: height ratio = y range
    figure, axes = plt.subplots(
        len(items),
        1,
        figsize=(8, 0.36 * sum(rows) + 0.4 * len(items)),
        gridspec_kw={"height_ratios": rows, "hspace": 0.9},
    )
    for ax, (title, ids) in zip(axes, items):
        draw(ax, title, ids, vocab, width)
    handles = [Rectangle((0, 0), 1, 1, facecolor=c) for c in COLOURS + [TEXT_COLOUR, "#8172b3"]]
    figure.legend(
        handles,
        ["codebook 0 (semantic)", "codebook 1", "codebook 2", "text", "special"],
        loc="lower center",
        ncol=5,
        fontsize=8,
        frameon=False,
    )
    figure.suptitle("codec.layouts on K = 3 codebooks, F = 4 frames (numbers: frame index)", fontsize=10)
    figure.subplots_adjust(left=0.02, right=0.98, top=0.93, bottom=0.05)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.out, dpi=120)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
