"""What a prep run passes around: the items to tokenize, a rank's report, and the strict-mode error."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class PrepItem:
    """One utterance to tokenize: its id, file path (or datasets row index) and optional text/speaker."""

    id: str
    path: str
    source: str | int
    text: str | None = None
    speaker: str | None = None
    error: str | None = None


@dataclass
class PrepReport:
    """One rank's run: shards written/skipped, rows and audio seconds written now, failures in all its shards."""

    out_dir: Path
    rank: int
    world_size: int
    num_shards: int
    shards_written: list[int] = field(default_factory=list)
    shards_skipped: list[int] = field(default_factory=list)
    rows: int = 0
    audio_seconds: float = 0.0
    errors: list[tuple[str, str]] = field(default_factory=list)
    manifest: Path | None = None


class PrepFailed(RuntimeError):
    """Raised by tokenize_corpus(strict=True) when any item failed (outputs are still written)."""
