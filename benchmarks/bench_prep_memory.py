"""Peak memory of `codec prep` on one long file: is it flat in the file's length?

usage: .venv/bin/python benchmarks/bench_prep_memory.py [--minutes 2 60] [--model speechcodec-16k-50hz]
       [--num-workers 2] [--mixed N] [--keep DIR]

For each duration, a synthetic speech-like 16 kHz FLAC file is written block by block (never held
whole in memory), then `python -m codec prep FILE -o OUT --model M --quiet` runs as a subprocess.
Reported per run: the peak RSS summed over the prep process tree (the main process and its
decoding workers, sampled every 50 ms from /proc), the main process's own peak (wait4 ru_maxrss,
which also covers waited-for children) and the wall time. `--mixed N` adds a run on a folder holding
the longest file plus N short (3-8 s) files. Linux only.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
RATE = 16000
BLOCK_SECONDS = 10


def write_speechlike(path: Path, minutes: float, seed: int = 0) -> None:
    """A harmonic signal with moving pitch, syllable-rate envelope and light noise, written in 10 s blocks."""
    rng = np.random.default_rng(seed)
    total = int(minutes * 60 * RATE)
    phase = 0.0
    with sf.SoundFile(str(path), "w", samplerate=RATE, channels=1, format="FLAC", subtype="PCM_16") as out:
        for start in range(0, total, BLOCK_SECONDS * RATE):
            t = (start + np.arange(min(BLOCK_SECONDS * RATE, total - start))) / RATE
            f0 = 110 + 40 * np.sin(2 * np.pi * 0.7 * t)
            phases = phase + 2 * np.pi * np.cumsum(f0) / RATE
            phase = float(phases[-1])
            wav = sum(np.sin(k * phases) / k for k in range(1, 12))
            envelope = 0.5 + 0.5 * np.clip(np.sin(2 * np.pi * 4 * t), 0, None)
            out.write((0.2 * wav * envelope + 0.01 * rng.standard_normal(len(t))).astype(np.float32))


def tree_rss_bytes(pid: int) -> int:
    """Summed VmRSS of `pid` and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    ppid = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        todo += children.get(current, [])
        try:
            with open(f"/proc/{current}/status") as handle:
                total += next((int(line.split()[1]) * 1024 for line in handle if line.startswith("VmRSS:")), 0)
        except OSError:
            continue
    return total


def measure(command: list[str], env: dict[str, str]) -> tuple[int, int, float, int]:
    """Run `command`; (peak tree RSS bytes, main-process ru_maxrss bytes, wall seconds, exit status)."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    peak = 0
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            break
        peak = max(peak, tree_rss_bytes(proc.pid))
        time.sleep(0.05)
    return peak, usage.ru_maxrss * 1024, time.perf_counter() - start, proc.returncode


def machine() -> str:
    """CPU model, cores and load, for the record."""
    cpu = platform.processor() or "cpu"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"{cpu}; {os.cpu_count()} cores; load avg {load}"


def main() -> None:
    """Generate the files, run prep on each, print a Markdown table and the ratio of the peaks."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[2.0, 60.0])
    parser.add_argument("--model", default="speechcodec-16k-50hz")
    parser.add_argument("--num-workers", type=int, default=2, help="prep decoding workers (prep's default: 2)")
    parser.add_argument(
        "--mixed", type=int, default=0, metavar="N", help="also run on a folder with the longest file and N short files"
    )
    parser.add_argument("--keep", type=Path, default=None, help="work in this directory and keep it")
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="bench_prep_memory_"))
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    print(f"machine: {machine()}")
    print(f"model: {args.model}; prep --num-workers {args.num_workers}; one 16 kHz FLAC file per run\n")
    print("| file (min) | peak RSS, process tree (MiB) | peak RSS, main process (MiB) | wall (s) |")
    print("|-----------:|-----------------------------:|-----------------------------:|---------:|")
    peaks = []
    runs = [(f"{m:g}", m, work / f"speech-{m:g}min.flac") for m in args.minutes]
    if args.mixed:
        runs.append((f"{max(args.minutes):g} + {args.mixed} short", max(args.minutes), work / "mixed"))
    try:
        for label, minutes, audio in runs:
            if audio.name == "mixed":
                audio.mkdir(exist_ok=True)
                longest = work / f"speech-{minutes:g}min.flac"
                if not (audio / longest.name).exists():
                    os.link(longest, audio / longest.name)
                for n in range(args.mixed):
                    if not (audio / f"short{n:03d}.flac").exists():
                        write_speechlike(audio / f"short{n:03d}.flac", (3 + n % 6) / 60, seed=n + 1)
            elif not audio.exists():
                write_speechlike(audio, minutes)
            out = work / f"out-{audio.stem}"
            shutil.rmtree(out, ignore_errors=True)
            command = [
                sys.executable,
                "-m",
                "codec",
                "prep",
                str(audio),
                "-o",
                str(out),
                "--model",
                args.model,
                "--num-workers",
                str(args.num_workers),
                "--quiet",
                "--strict",
            ]
            tree, main_peak, wall, status = measure(command, env)
            if status != 0:
                raise SystemExit(f"prep failed with status {status} on {audio}")
            peaks.append(tree)
            print(f"| {label} | {tree / 2**20:.0f} | {main_peak / 2**20:.0f} | {wall:.0f} |", flush=True)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    if len(args.minutes) > 1:
        print(f"\nratio of peaks (longest / shortest file): {peaks[len(args.minutes) - 1] / peaks[0]:.2f}")


if __name__ == "__main__":
    main()
