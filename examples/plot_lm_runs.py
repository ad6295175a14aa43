#!/usr/bin/env python
"""Plot train and held-out loss of examples/train_lm.py runs (their metrics.jsonl) into one PNG.

python examples/plot_lm_runs.py runs/flatten runs/delay runs/depth -o docs/img/lm_example_loss.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", type=Path, nargs="+", help="OUT directories of train_lm.py")
    parser.add_argument("-o", "--out", type=Path, required=True)
    args = parser.parse_args()
    figure, ax = plt.subplots(figsize=(7, 4))
    for i, run in enumerate(args.runs):
        records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        layout = json.loads((run / "summary.json").read_text())["layout"]
        steps = [r["step"] for r in records]
        ax.plot(steps, [r["loss"] for r in records], color=f"C{i}", label=f"{layout} train")
        if "val_loss" in records[0]:
            ax.plot(steps, [r["val_loss"] for r in records], color=f"C{i}", linestyle="--", label=f"{layout} held-out")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy per id (nats)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
