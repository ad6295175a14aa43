#!/usr/bin/env python
"""Effective audio bandwidth, and a manifest filter that drops band-limited recordings.

A recording sampled at 16 or 22 kHz can still carry nothing above 3 kHz (telephone-band or
low-passed masters: all of Debian's fillets-ng Dutch dialogue is). Trained on such targets, a
decoder learns to leave out the upper band and sounds dull on full-band speech. The effective
bandwidth is the frequency below which `energy` (default 99.9 %) of the clip's long-term power
spectrum lies.

    python recipes/data/bandwidth.py data/ab/natural.jsonl data/ab/natural_fullband.jsonl --min-hz 4000

writes the rows whose audio reaches `--min-hz`, each with its `bandwidth_hz`, and prints per source
(the row's `source`, else its speaker's prefix) how many were kept. An augmented row (natural_speech.py's
`augment` chain, e.g. added noise) is judged by its un-augmented `original` under `--originals`
(the corpus's `_packages/root`), since noise would fill the missing band.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from codec.io.files import atomic_write_bytes

MIN_BANDWIDTH_HZ = 4000.0


def effective_bandwidth(audio: np.ndarray, rate: int, energy: float = 0.999, n_fft: int = 1024) -> float:
    """Hz below which `energy` of the long-term power spectrum of mono `audio` lies (0 for silence)."""
    audio = np.asarray(audio, dtype=np.float64).reshape(-1)
    if audio.size < n_fft:
        audio = np.pad(audio, (0, n_fft - audio.size))
    hop = n_fft // 2
    frames = np.lib.stride_tricks.sliding_window_view(audio, n_fft)[::hop] * np.hanning(n_fft)
    power = (np.abs(np.fft.rfft(frames, axis=-1)) ** 2).sum(0)
    total = power.sum()
    if total <= 0:
        return 0.0
    index = int(np.searchsorted(np.cumsum(power) / total, energy))
    return float(min(index, power.size - 1) * rate / n_fft)


def file_bandwidth(path: str | Path, energy: float = 0.999) -> float:
    """Effective bandwidth of an audio file (channels averaged)."""
    audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    return effective_bandwidth(audio.mean(1), rate, energy)


def filter_manifest(
    manifest: Path, out: Path, min_hz: float, originals: Path | None = None, progress: bool = True
) -> dict[str, list[int]]:
    """Write the rows of `manifest` reaching `min_hz` (with `bandwidth_hz`) to `out`; per source [kept, total]."""
    rows = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
    counts: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    kept = []
    for row in tqdm(rows, desc="bandwidth", unit="file", disable=not progress, file=sys.stderr):
        path = Path(row["path"])
        path = path if path.is_absolute() else manifest.parent / path
        if originals is not None and row.get("augment") and row.get("original"):
            path = originals / row["original"]
        try:
            row["bandwidth_hz"] = round(file_bandwidth(path))
        except (OSError, RuntimeError, ValueError) as err:
            print(f"error: {path}: {err}", file=sys.stderr)
            continue
        source = row.get("source") or str(row.get("speaker", "?")).split("-")[0]
        counts[source][1] += 1
        if row["bandwidth_hz"] >= min_hz:
            counts[source][0] += 1
            kept.append(row)
    atomic_write_bytes(out, "".join(json.dumps(r) + "\n" for r in kept).encode())
    return dict(counts)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("manifest", type=Path, help="JSONL manifest (rows with `path`)")
    parser.add_argument("out", type=Path, help="filtered JSONL manifest to write")
    parser.add_argument("--min-hz", type=float, default=MIN_BANDWIDTH_HZ, help="least effective bandwidth kept")
    parser.add_argument("--originals", type=Path, help="where augmented rows' `original` files lie")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    counts = filter_manifest(args.manifest, args.out, args.min_hz, args.originals, progress=not args.quiet)
    for source, (kept, total) in sorted(counts.items()):
        print(f"{source}: kept {kept} of {total}")


if __name__ == "__main__":
    main()
