"""How a batch job records a file that failed: one line of reason, kept in a list and printed, then it carries on."""

from __future__ import annotations

import os
import sys

from tqdm import tqdm

ERRORS_FILE = "errors.jsonl"  # every batch job lists its failed files here, one JSON object a line


def record_failure(failed: list[tuple[str, str]], path: str | os.PathLike, reason: str) -> None:
    """Append (path, reason) to `failed` and print `error: PATH: REASON` to stderr above any progress bar."""
    reason = reason.removeprefix(f"{path}: ")
    failed.append((str(path), reason))
    tqdm.write(f"error: {path}: {reason}", file=sys.stderr)
