"""Turn command-line inputs (files, directories, globs, manifests) into items with output-relative names."""

from __future__ import annotations

import glob
from dataclasses import dataclass, field
from pathlib import Path

from codec.audio import AUDIO_EXTENSIONS

MANIFEST_EXTENSIONS = (".txt", ".jsonl", ".csv")


@dataclass(frozen=True)
class InputItem:
    """One input file and its path relative to the output directory (extension kept)."""

    path: Path
    relative: Path
    text: str | None = None
    speaker: str | None = None
    alignment: tuple[tuple[float, float, str], ...] | None = None


@dataclass
class CollectedInputs:
    """What `collect_inputs` found, and the specs that matched nothing (with reasons)."""

    items: list[InputItem] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)


def collect_inputs(specs: list[str], extensions: tuple[str, ...] = AUDIO_EXTENSIONS) -> CollectedInputs:
    """Expand files, directories (recursive), globs and text/JSONL/CSV manifests, in order, without duplicates."""
    found = CollectedInputs()
    seen: set[Path] = set()
    for spec in specs:
        try:
            items = _expand(spec, extensions)
        except (OSError, ValueError) as err:
            found.errors.append((spec, str(err)))
            continue
        if not items:
            found.errors.append((spec, "matched no input files"))
        for item in items:
            key = item.path.resolve()
            if key not in seen:
                seen.add(key)
                found.items.append(item)
    return found


def _expand(spec: str, extensions: tuple[str, ...]) -> list[InputItem]:
    path = Path(spec)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in extensions)
        return [InputItem(p, p.relative_to(path)) for p in files]
    if path.is_file():
        if path.suffix.lower() in MANIFEST_EXTENSIONS:
            return read_manifest(path)
        return [InputItem(path, Path(path.name))]
    if glob.has_magic(spec):
        root = _glob_root(spec)
        files = sorted(Path(p) for p in glob.glob(spec, recursive=True) if Path(p).is_file())
        return [InputItem(p, _relative_or_name(p, root)) for p in files]
    raise FileNotFoundError(f"{spec}: no such file or directory")


def read_manifest(path: Path) -> list[InputItem]:
    """Items of a manifest: .txt (one path a line), .jsonl or .csv (`path`, optional `id`, `text`, `speaker`)."""
    from codec.data.manifest import parse_alignment, read_manifest_rows

    base = path.parent
    items = []
    for row in read_manifest_rows(path):
        file = Path(row["path"])
        file = file if file.is_absolute() else base / file
        relative = Path(str(row["id"]) + file.suffix) if row.get("id") else _relative_or_name(file, base)
        items.append(InputItem(file, relative, row.get("text"), row.get("speaker"), parse_alignment(row.get("alignment"))))
    return items


def _glob_root(spec: str) -> Path:
    parts = []
    for part in Path(spec).parts:
        if glob.has_magic(part):
            break
        parts.append(part)
    return Path(*parts) if parts else Path(".")


def _relative_or_name(path: Path, root: Path) -> Path:
    try:
        return path.resolve().relative_to(root.resolve())
    except ValueError:
        return Path(path.name)
