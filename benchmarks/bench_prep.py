"""Throughput of `codec prep` (hours of audio per wall-clock hour) for the default speech config.

usage: .venv/bin/python benchmarks/bench_prep.py [--files 60] [--seconds 4] [--workers 1 2] [--batch-size 16]

Random weights (quantizer.kmeans_init=False), a generated corpus of 16 kHz FLAC files, CPU unless --device.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import soundfile as sf
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codec.config import CodecConfig, QuantizerConfig
from codec.models.codec import Codec
from codec.prep import tokenize_corpus


def speech(seconds: float, rate: int, seed: int) -> torch.Tensor:
    """A harmonic, syllable-modulated test signal [T] (deterministic per seed)."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(int(seconds * rate)) / rate
    f0 = 100 + 50 * torch.sin(2 * torch.pi * 0.5 * t + float(torch.rand(1, generator=g)) * 6)
    phase = 2 * torch.pi * torch.cumsum(f0, 0) / rate
    wav = sum(torch.sin(k * phase) / k for k in range(1, 16))
    envelope = 0.5 + 0.5 * torch.sin(2 * torch.pi * 4 * t).clamp(min=0)
    return (0.2 * wav * envelope + 0.01 * torch.randn(len(t), generator=g)).float()


def make_corpus(root: Path, files: int, seconds: float, rate: int) -> float:
    """Write `files` FLAC files of about `seconds` each (lengths vary by +-25%); returns total seconds."""
    total = 0.0
    for i in range(files):
        length = seconds * (0.75 + 0.5 * ((i * 37) % 100) / 100)
        wav = speech(length, rate, seed=i)
        sf.write(root / f"utt{i:04d}.flac", wav.numpy(), rate)
        total += wav.numel() / rate
    return total


def machine() -> str:
    """CPU model, cores and torch threads, for the record."""
    cpu = platform.processor() or "cpu"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    threads = torch.get_num_threads()
    return f"{cpu}; {os.cpu_count()} cores; torch {torch.__version__}, {threads} threads; load avg {load}"


def main() -> None:
    """Generate the corpus, run prep once per worker count, print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=60)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--sample-rate", type=int, default=16000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    torch.manual_seed(0)
    model = Codec(CodecConfig(quantizer=QuantizerConfig(kmeans_init=False))).eval().to(args.device)
    work = Path(tempfile.mkdtemp(prefix="bench_prep_"))
    try:
        (work / "corpus").mkdir()
        audio_s = make_corpus(work / "corpus", args.files, args.seconds, args.sample_rate)
        model.tokenize(torch.zeros(1, args.sample_rate), sample_rate=args.sample_rate)  # one-time init
        print(f"machine: {machine()}")
        print(f"model: {model.model_id} (default config, random weights), device {args.device}")
        print(
            f"corpus: {args.files} FLAC files, {audio_s / 60:.1f} min at {args.sample_rate} Hz, "
            f"batch {args.batch_size}\n"
        )
        print("| decode workers | wall (s) | audio (h) | hours of audio / hour |")
        print("|---------------:|---------:|----------:|----------------------:|")
        for workers in args.workers:
            out = work / f"out-{workers}"
            start = time.perf_counter()
            report = tokenize_corpus(
                [str(work / "corpus")],
                out,
                model,
                batch_size=args.batch_size,
                num_workers=workers,
                rank=0,
                world_size=1,
            )
            wall = time.perf_counter() - start
            assert report.rows == args.files and not report.errors
            hours = report.audio_seconds / 3600
            print(f"| {workers} | {wall:.1f} | {hours:.4f} | {hours / (wall / 3600):.0f} |", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
