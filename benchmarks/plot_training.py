"""Plot a run's curves from its JSONL metrics log into a PNG (held-out mel distance, phone purity, losses).

python benchmarks/plot_training.py runs/cpu_small/metrics.jsonl docs/img/training_cpu_small.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def series(rows: list[dict], split: str, key: str) -> tuple[list[int], list[float]]:
    """(steps, values) of one metric; later rows for the same step win (resumed runs)."""
    points = {r["step"]: r[key] for r in rows if r.get("split") == split and key in r}
    steps = sorted(points)
    return steps, [points[s] for s in steps]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("metrics", type=Path, help="metrics.jsonl of a run")
    parser.add_argument("out", type=Path, help="PNG to write")
    args = parser.parse_args()
    rows = [json.loads(line) for line in args.metrics.read_text().splitlines() if line.strip()]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for key, label in (("eval/mel_distance", "all codebooks"), ("eval/mel_distance_coarse", "first codebook only")):
        axes[0].plot(*series(rows, "eval", key), marker="o", label=label)
    axes[0].set(title="held-out log-mel distance (lower is better)", xlabel="step")
    for k in (0, 1):
        axes[1].plot(*series(rows, "eval", f"eval/phone_purity_{k}"), marker="o", label=f"codebook {k} purity")
        axes[1].plot(*series(rows, "eval", f"eval/pnmi_{k}"), linestyle="--", label=f"codebook {k} PNMI")
    axes[1].set(title="held-out phone purity / PNMI", xlabel="step")
    for key in ("loss/mel", "loss/distill", "loss/adversarial", "loss/discriminator"):
        steps, values = series(rows, "train", key)
        if steps:
            axes[2].plot(steps, values, label=key.split("/")[1])
    axes[2].set(title="training losses", xlabel="step", yscale="log")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=100)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
