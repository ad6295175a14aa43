"""Training manifests: JSONL or CSV rows with `path` and optional `duration`, `text`, `speaker`, `alignment`."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Utterance:
    """One utterance of any job (training, tokenize, prep, eval): its audio, its name in outputs, its manifest fields.

    `id` names it in outputs, reports and teacher-feature files; `alignment` is (start_s, end_s, phone)
    tuples; `row` indexes an in-memory (Hugging Face) dataset when the audio is not a file.
    """

    path: Path
    id: str
    duration: float | None = None
    text: str | None = None
    speaker: str | None = None
    alignment: tuple[tuple[float, float, str], ...] | None = None
    row: int | None = None

    @property
    def relative(self) -> Path:
        """Its output path relative to an output directory, with the input's extension (a job swaps it)."""
        return Path(self.id + self.path.suffix)

    @property
    def source(self) -> str:
        """What a message names it by: the file, or `item ID` for a dataset row."""
        return f"item {self.id}" if self.row is not None else str(self.path)


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


def row_audio_path(row: dict, base: Path) -> Path:
    """A manifest row's audio file; a relative `path` resolves against the manifest's directory `base`."""
    path = Path(row["path"])
    return path if path.is_absolute() else base / path


def utterance_from_row(row: dict, path: Path, id: str) -> Utterance:
    """The Utterance of a manifest row whose audio is `path`, named `id` (empty fields become None)."""
    duration = row.get("duration")
    return Utterance(
        path=path,
        id=id,
        duration=float(duration) if duration not in (None, "") else None,
        text=row.get("text") or None,
        speaker=row.get("speaker") or None,
        alignment=parse_alignment(row.get("alignment")),
    )


def read_utterances(manifest: str | Path) -> list[Utterance]:
    """Rows of a training manifest, named by their `id` (else the file's stem)."""
    manifest = Path(manifest)
    utterances = []
    for row in read_manifest_rows(manifest):
        path = row_audio_path(row, manifest.parent)
        utterances.append(utterance_from_row(row, path, str(row.get("id") or path.stem)))
    return utterances
