"""Error messages in one line: what every command, batch job and loader prints for a failure."""

from __future__ import annotations

import os


def one_line(err: BaseException | None, path: str | os.PathLike | None = None) -> str:
    """The first line of an error's message (its type name when empty), without a leading `PATH: `."""
    lines = str(err).strip().splitlines() if err is not None else []
    text = lines[0] if lines else type(err).__name__
    return text if path is None else text.removeprefix(f"{path}: ")
