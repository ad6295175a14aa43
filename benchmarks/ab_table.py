"""One Markdown table from several `codec eval` reports (A/B arms, releases): full and coarse rows.

codec eval --model runs/ab/A/checkpoints/step_N real/manifest.jsonl --baselines none --report reports/A
python benchmarks/ab_table.py reports/A reports/B ...
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

COLUMNS = (
    ("mel", "mel ↓", 3),
    ("pesq", "PESQ-WB ↑", 2),
    ("stoi", "STOI ↑", 3),
    ("dnsmos", "DNSMOS ↑", 2),
    ("speaker_sim", "speaker sim ↑", 3),
    ("level_db", "level dB", 2),
)


def rows(report_dir: Path) -> list[str]:
    """Table rows (coarse and full codec systems) of one report."""
    report = json.loads((report_dir / "report.json").read_text())
    out = []
    for system in report["systems"]:
        if system["kind"] != "codec" or not system["role"]:
            continue
        cells = [report_dir.name, f"k={system['num_codebooks']} ({system['role']})", f"{system['kbps']:.1f}"]
        for key, _, digits in COLUMNS:
            value = system["scores"].get(key)
            cells.append("–" if value is None else f"{value:.{digits}f}")
        out.append("| " + " | ".join(cells) + " |")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("reports", nargs="+", type=Path, help="directories holding report.json")
    args = parser.parse_args()
    head = ["run", "codebooks", "kbps", *(title for _, title, _ in COLUMNS)]
    print("| " + " | ".join(head) + " |")
    print("|" + " --- |" * len(head))
    for directory in args.reports:
        print("\n".join(rows(directory)))


if __name__ == "__main__":
    main()
