"""Streaming real-time factor per chunk size for the default speech config made causal (random weights).

    .venv/bin/python benchmarks/bench_streaming.py [--seconds 10] [--threads 1] [--chunks 1 2 4 10]

RTF = compute seconds / audio seconds for encode_chunk + decode_chunk over the whole stream (<1 is
faster than real time); also the mean and worst per-chunk compute time against the chunk duration.
Small chunks are latency-bound: one intra-op thread is usually best, and on a loaded machine more
threads make every op wait for a scheduler slice. The machine's load average is printed with the table.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import torch

from codec.config import CodecConfig, QuantizerConfig
from codec.models.codec import Codec
from codec.runtime.streaming import algorithmic_latency


def bench(model: Codec, chunk_frames: int, seconds: float) -> dict[str, float]:
    """Stream `seconds` of noise-like audio in chunks of `chunk_frames`; timings in seconds."""
    hop = model.frame_size
    frames = int(seconds * model.frame_rate) // chunk_frames * chunk_frames
    audio = 0.1 * torch.randn(1, 1, frames * hop)
    per_chunk = []
    with model.streaming(1):
        model.decode_chunk(model.encode_chunk(audio[..., : chunk_frames * hop]))  # warm-up
        model.reset_streaming()
        for start in range(0, frames, chunk_frames):
            t0 = time.perf_counter()
            model.decode_chunk(model.encode_chunk(audio[..., start * hop : (start + chunk_frames) * hop]))
            per_chunk.append(time.perf_counter() - t0)
        model.flush()
    total = sum(per_chunk)
    return dict(
        rtf=total / (frames / model.frame_rate),
        mean_ms=1000 * total / len(per_chunk),
        max_ms=1000 * max(per_chunk),
        chunk_ms=1000 * chunk_frames / model.frame_rate,
    )


def main() -> None:
    """Print a markdown table of streaming RTF per chunk size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--chunks", type=int, nargs="+", default=[1, 2, 4, 10])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = CodecConfig(causal=True, quantizer=QuantizerConfig(kmeans_init=False))
    model = Codec(cfg).eval()
    latency = algorithmic_latency(cfg)
    params = sum(p.numel() for p in model.parameters()) / 1e6
    print(
        f"{cfg.name} causal, {params:.1f} M params, torch {torch.__version__}, {args.threads} threads, "
        f"{platform.processor() or platform.machine()} x{os.cpu_count()}, load average {os.getloadavg()[0]:.1f}; "
        f"algorithmic latency {latency.describe()}"
    )
    print("| chunk (frames) | chunk (ms) | RTF | mean compute / chunk (ms) | max (ms) |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for n in args.chunks:
        r = bench(model, n, args.seconds)
        print(f"| {n} | {r['chunk_ms']:.0f} | {r['rtf']:.3f} | {r['mean_ms']:.2f} | {r['max_ms']:.2f} |")


if __name__ == "__main__":
    main()
