#!/usr/bin/env python
"""Write a small synthetic corpus (speech-like harmonic signals) and, optionally, a tiny random codec.

The signals have a gliding pitch, harmonics and syllable-rate loudness, so their tokens have
structure a small LM can learn. For real (TTS) speech use recipes/data/synthetic_speech.py instead.

    python examples/make_corpus.py corpus/ --clips 32 --seconds 2
    python examples/make_corpus.py corpus/ --clips 16 --seconds 1 --tiny-model tiny-codec/   # for CI
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import torch

from codec.io.audio import save_audio

SAMPLE_RATE = 16000


def speechlike(seconds: float, seed: int) -> torch.Tensor:
    """A deterministic [1, T] signal: 8 harmonics of a gliding f0, 3-6 Hz syllable envelope, light noise."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    base, depth, rate = (float(x) for x in torch.rand(3, generator=g))
    f0 = 100 + 80 * base + 30 * depth * torch.sin(2 * math.pi * (0.5 + rate) * t)
    phase = 2 * math.pi * torch.cumsum(f0, 0) / SAMPLE_RATE
    wav = sum(torch.sin(k * phase) / k for k in range(1, 9))
    syllables = 3 + 3 * float(torch.rand(1, generator=g))
    envelope = (0.5 + 0.5 * torch.sin(2 * math.pi * syllables * t)).clamp(min=0) ** 2
    noise = 0.01 * torch.randn(len(t), generator=g)
    return (0.15 * wav * envelope + noise).float()[None]


def tiny_codec(directory: Path) -> None:
    """Save a seeded random-weight codec (16 kHz, 50 Hz, 4 x 64 codebooks, ~20k parameters)."""
    from codec.config import CodecConfig, DecoderConfig, EncoderConfig, QuantizerConfig
    from codec.models.codec import Codec

    torch.manual_seed(0)
    config = CodecConfig(
        name="tiny-example",
        sample_rate=SAMPLE_RATE,
        frame_size=320,
        latent_dim=16,
        encoder=EncoderConfig(kind="frame", dim=32, num_layers=1, n_fft=640),
        quantizer=QuantizerConfig(
            num_codebooks=4, codebook_size=64, codebook_dim=4, num_semantic_codebooks=1, kmeans_init=False
        ),
        decoder=DecoderConfig(kind="vocoder", dim=32, intermediate_dim=64, num_layers=1, n_fft=640),
    )
    Codec(config).eval().save_pretrained(directory)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="directory for <id>.wav files")
    parser.add_argument("--clips", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--tiny-model", type=Path, help="also save a tiny random codec here")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for i in range(args.clips):
        save_audio(args.out / f"clip{i:04d}.wav", speechlike(args.seconds, seed=i), SAMPLE_RATE)
    if args.tiny_model:
        tiny_codec(args.tiny_model)
    print(f"wrote {args.clips} clips of {args.seconds} s to {args.out}")


if __name__ == "__main__":
    main()
