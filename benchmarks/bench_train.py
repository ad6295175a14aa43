"""Training throughput (audio-seconds per second) of recipes on this machine, GAN phase and mel-only phase.

    python benchmarks/bench_train.py --recipes tiny cpu_small --steps 6 --threads 2
    python benchmarks/bench_train.py --recipes cpu_small speech16k --device cuda   # bf16 autocast
    python benchmarks/bench_train.py --recipes cpu_small --threads 1 --variant bf16=precision=bf16 \
        --variant dcrop=discriminator.crop_seconds=0.5     # recipe variants side by side

CPU s per step is the process CPU time of a step (all threads): the fair figure on a shared machine.

Synthetic speech-like crops stand in for data (throughput does not depend on content).
Recipes are measured interleaved, step by step, so machine noise hits them equally.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from codec.data.dataset import Batch
from codec.train.config import load_train_config
from codec.train.loop import build_parts
from codec.train.step import train_step

RECIPES = Path(__file__).resolve().parents[1] / "recipes"


def make_batch(cfg) -> Batch:
    """A batch of random-phase harmonic crops the size the recipe asks for."""
    n = int(cfg.data.segment_seconds * cfg.model.sample_rate)
    t = torch.arange(n) / cfg.model.sample_rate
    audio = torch.stack([0.3 * torch.sin(2 * torch.pi * (120 + 10 * b) * t) for b in range(cfg.data.batch_size)])
    frames = -(-n // cfg.model.frame_size)
    phones = torch.randint(0, 8, (cfg.data.batch_size, frames))
    return Batch(audio[:, None], torch.full((cfg.data.batch_size,), n), phones, None, 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipes", nargs="+", default=["tiny", "cpu_small"])
    parser.add_argument("--steps", type=int, default=6, help="timed steps per phase (after 2 warm-up steps)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu", help="cpu or cuda (GPU steps use the recipe's precision: bf16)")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME=KEY=VALUE[;KEY=VALUE]",
        help="also measure each recipe with these overrides (repeatable)",
    )
    args = parser.parse_args()
    variants = {"": []}
    for spec in args.variant:
        name, _, overrides = spec.partition("=")
        variants[name] = [o for o in overrides.split(";") if o]
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    setups = {}
    for recipe in args.recipes:
        for variant, overrides in variants.items():
            cfg = load_train_config(
                RECIPES / f"{recipe}.yaml", ["teacher.kind=phones", "teacher.phones=[a,b,c,d,e,f,g,h]", *overrides]
            )
            name = f"{recipe} {variant}".strip()
            setups[name] = (cfg, build_parts(cfg, device), make_batch(cfg))
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{args.threads} CPU threads"
    print(f"# torch {torch.__version__}, {where}, {args.steps} timed steps per phase")
    print("| recipe | params G / D | batch x seconds | phase | audio-s per s | s per step | CPU s per step |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for phase, step in (("mel only", 1), ("GAN", 10**9)):
        times = {name: [] for name in setups}
        cpu = {name: [] for name in setups}
        for i in range(args.steps + 2):
            for name, (cfg, parts, batch) in setups.items():
                cfg.loss.mel_only_steps = 0 if phase == "GAN" else 10**9
                sync()
                start, cpu_start = time.perf_counter(), time.process_time()
                train_step(parts, batch, step)
                sync()
                if i >= 2:
                    times[name].append(time.perf_counter() - start)
                    cpu[name].append(time.process_time() - cpu_start)
        for name, (cfg, parts, _) in setups.items():
            per_step = statistics.median(times[name])
            seconds = cfg.data.batch_size * cfg.data.segment_seconds
            g = sum(p.numel() for p in parts.model.parameters()) / 1e6
            d = sum(p.numel() for p in parts.discriminator.parameters()) / 1e6
            print(
                f"| {name} | {g:.1f} M / {d:.1f} M | {cfg.data.batch_size} x {cfg.data.segment_seconds:g} | "
                f"{phase} | {seconds / per_step:.1f} | {per_step:.2f} | {statistics.median(cpu[name]):.2f} |"
            )


if __name__ == "__main__":
    main()
