"""Held-out real-speech scores of a run's checkpoints against the bar (Codec2, Opus) as curves and a table.

    runs/score_watch.sh-style reports: codec eval --model runs/X/checkpoints/step_N SET --baselines none \\
        --num-codebooks 1,2,8 --report runs/X/reports/step_N
    python benchmarks/plot_real_curve.py runs/X/reports docs/img/real_curve.png --reference REPORT_WITH_BASELINES

One point per `step_N` report directory (its number is the x axis); `--reference` is a `codec eval` report
of the same clips that includes the baselines (codec2-1200, codec2-3200, opus-6k are drawn as lines) and the
release (drawn at step 0). A Markdown table of the same numbers is printed.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

METRICS = (("pesq", "PESQ-WB"), ("stoi", "STOI"), ("speaker_sim", "speaker similarity"), ("dnsmos", "DNSMOS"))
BASELINES = ("codec2-1200", "codec2-3200", "opus-6k")


def codec_scores(report: dict) -> dict[int, dict[str, float]]:
    """{num_codebooks: scores} of the codec systems of one report."""
    return {s["num_codebooks"]: s["scores"] for s in report["systems"] if s["kind"] == "codec"}


def baseline_scores(report: dict) -> dict[str, dict[str, float]]:
    """{baseline name: scores} of the classic codecs in one report."""
    return {s["name"]: s["scores"] for s in report["systems"] if s["name"] in BASELINES}


def load_points(reports: Path) -> dict[int, dict[int, dict[str, float]]]:
    """{step: {k: scores}} of every `step_N/report.json` under `reports`."""
    points = {}
    for path in sorted(reports.glob("step_*/report.json")):
        match = re.fullmatch(r"step_0*(\d+)", path.parent.name)
        if match:
            points[int(match.group(1))] = codec_scores(json.loads(path.read_text()))
    return points


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("reports", type=Path, help="folder of step_N report directories")
    parser.add_argument("out", type=Path, help="PNG to write")
    parser.add_argument(
        "--reference",
        type=Path,
        required=True,
        help="report directory of the release on the same clips, with baselines",
    )
    parser.add_argument("--codebooks", default="2,8", help="codec rows to draw (default 2,8)")
    args = parser.parse_args()
    reference = json.loads((args.reference / "report.json").read_text())
    points = {0: codec_scores(reference), **load_points(args.reports)}
    baselines = baseline_scores(reference)
    ks = [int(k) for k in args.codebooks.split(",")]
    steps = sorted(points)

    fig, axes = plt.subplots(1, len(METRICS), figsize=(4 * len(METRICS), 3.4))
    for ax, (key, label) in zip(axes, METRICS):
        for k in ks:
            xs = [s for s in steps if key in points[s].get(k, {})]
            ax.plot(xs, [points[s][k][key] for s in xs], marker="o", label=f"codec k={k} ({k / 2:g} kbps)")
        for name, color in zip(BASELINES, ("tab:gray", "black", "tab:red")):
            if key in baselines.get(name, {}):
                ax.axhline(baselines[name][key], color=color, linestyle="--", linewidth=1, label=name)
        ax.set_title(label)
        ax.set_xlabel("fine-tuning step (0 = release)")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)

    print("| step | " + " | ".join(f"k={k} {label}" for k in ks for _, label in METRICS) + " |")
    print("| ---: |" + " ---: |" * (len(ks) * len(METRICS)))
    for step in steps:
        cells = []
        for k in ks:
            for key, _ in METRICS:
                value = points[step].get(k, {}).get(key)
                cells.append("–" if value is None else f"{value:.3f}")
        print(f"| {step} | " + " | ".join(cells) + " |")
    for name in BASELINES:
        if name in baselines:
            cells = [f"{baselines[name][key]:.3f}" if key in baselines[name] else "–" for key, _ in METRICS]
            print(f"| {name} | " + " | ".join(cells) + " |")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
