"""Training manifests: JSONL or CSV rows with `path` and optional `duration`, `text`, `speaker`, `alignment`."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Utterance:
    """One manifest row; `alignment` is a list of (start_s, end_s, phone)."""

    path: Path
    id: str
    duration: float | None = None
    text: str | None = None
    speaker: str | None = None
    alignment: tuple[tuple[float, float, str], ...] | None = None


def read_manifest_rows(manifest: str | Path) -> list[dict]:
    """Rows of a manifest: .txt (one path a line), .csv (header row) or JSONL; each row has a `path`."""
    manifest = Path(manifest)
    if not manifest.is_file():
        raise FileNotFoundError(f"{manifest}: manifest not found")
    suffix = manifest.suffix.lower()
    with open(manifest, newline="") as handle:
        if suffix == ".txt":
            rows = [{"path": line.strip()} for line in handle if line.strip() and not line.startswith("#")]
        elif suffix == ".csv":
            rows = list(csv.DictReader(handle))
        else:
            rows = []
            for number, line in enumerate(handle, 1):
                if line.strip():
                    try:
                        rows.append(json.loads(line))
                    except json.JSONDecodeError as err:
                        raise ValueError(f"{manifest}:{number}: invalid JSON ({err.msg})") from None
    for number, row in enumerate(rows, 1):
        if not isinstance(row, dict) or not row.get("path"):
            raise ValueError(f"{manifest}: row {number} has no 'path'")
    return rows


def parse_alignment(value) -> tuple[tuple[float, float, str], ...] | None:
    """A row's `alignment` ([[start_s, end_s, phone], ...], or that as a JSON string in CSV) as tuples."""
    if isinstance(value, str):
        value = json.loads(value) if value.strip() else None
    return tuple((float(s), float(e), str(p)) for s, e, p in value) if value else None


def read_utterances(manifest: str | Path) -> list[Utterance]:
    """Rows of a JSONL or CSV manifest; relative paths resolve against the manifest's directory."""
    manifest = Path(manifest)
    base = manifest.parent
    rows = read_manifest_rows(manifest)
    utterances = []
    for row in rows:
        path = Path(row["path"])
        path = path if path.is_absolute() else base / path
        utterances.append(
            Utterance(
                path=path,
                id=str(row.get("id") or path.stem),
                duration=float(row["duration"]) if row.get("duration") not in (None, "") else None,
                text=row.get("text") or None,
                speaker=row.get("speaker") or None,
                alignment=parse_alignment(row.get("alignment")),
            )
        )
    return utterances
