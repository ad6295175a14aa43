"""Resolve a model reference (local directory for now) to a checkpoint directory."""

from __future__ import annotations

import os
from pathlib import Path


def resolve(source: str | os.PathLike) -> Path:
    """A checkpoint directory for `source`; raises FileNotFoundError saying what was tried."""
    path = Path(source).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise FileNotFoundError(f"{path}: not a checkpoint directory (no config.json)")
        return path
    if path.is_file() and path.name in ("config.json", "model.safetensors"):
        return path.parent
    raise FileNotFoundError(f"{source}: no checkpoint directory at this path")
