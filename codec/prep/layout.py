"""Layout of a prep output directory: format constants, shard and marker file names, reading its JSON."""

from __future__ import annotations

import json
from pathlib import Path

PREP_FORMAT = "codec.prep"
PREP_FORMAT_VERSION = 1
PLAN_FILE = "plan.json"
MANIFEST_FILE = "manifest.json"
ERRORS_FILE = "errors.jsonl"
COLUMNS = ("id", "path", "duration", "sample_rate", "num_samples", "n_frames", "codes", "text", "speaker")


def shard_name(index: int) -> str:
    """`shard-00042.parquet`."""
    return f"shard-{index:05d}.parquet"


def done_name(index: int) -> str:
    """`shard-00042.done.json`: written after the shard, records its rows, seconds and errors."""
    return f"shard-{index:05d}.done.json"


def _read_json(path: Path) -> dict:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not found (is this a `codec prep` output directory?)")
    return json.loads(path.read_text())


def _shard_done(out_dir: Path, index: int) -> bool:
    return (out_dir / done_name(index)).is_file() and (out_dir / shard_name(index)).is_file()
