"""Turn command-line inputs (files, directories, globs, manifests) into items with output-relative names."""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field
from pathlib import Path

from codec.data.manifest import Utterance, read_manifest_rows, row_audio_path, utterance_from_row
from codec.io.audio import AUDIO_EXTENSIONS
from codec.io.files import safe_relative

MANIFEST_EXTENSIONS = (".txt", ".jsonl", ".csv")


@dataclass
class CollectedInputs:
    """What `collect_inputs` found, and the specs that matched nothing (with reasons)."""

    items: list[Utterance] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)


def collect_inputs(specs: list[str], extensions: tuple[str, ...] = AUDIO_EXTENSIONS) -> CollectedInputs:
    """Expand files, directories (recursive), globs and text/JSONL/CSV manifests, in order, without duplicates."""
    found = CollectedInputs()
    seen: set[Path] = set()
    for spec in specs:
        problems: list[tuple[str, str]] = []
        try:
            items = _expand(spec, extensions, problems)
        except (OSError, ValueError) as err:
            found.errors.append((spec, str(err)))
            continue
        found.errors.extend(problems)
        if not items and not problems:
            found.errors.append((spec, "matched no input files"))
        for item in items:
            key = item.path.resolve()
            if key not in seen:
                seen.add(key)
                found.items.append(item)
    return found


def _expand(spec: str, extensions: tuple[str, ...], problems: list[tuple[str, str]]) -> list[Utterance]:
    """Items of one spec; per-entry problems (dangling links, bad manifest rows) go to `problems`."""
    path = Path(spec)
    if path.is_dir():
        candidates = sorted(p for p in path.rglob("*") if p.suffix.lower() in extensions)
        _report_dangling(candidates, problems)
        return [_file_item(p, p.relative_to(path)) for p in candidates if p.is_file()]
    if path.is_file():
        if path.suffix.lower() in MANIFEST_EXTENSIONS:
            return read_manifest(path, problems)
        return [_file_item(path, Path(path.name))]
    if path.is_symlink():
        raise FileNotFoundError(f"{spec}: dangling symbolic link (its target {os.readlink(path)!r} does not exist)")
    if glob.has_magic(spec):
        root = _glob_root(spec)
        candidates = sorted(Path(p) for p in glob.glob(spec, recursive=True))
        _report_dangling(candidates, problems)
        return [_file_item(p, _relative_or_name(p, root)) for p in candidates if p.is_file()]
    raise FileNotFoundError(f"{spec}: no such file or directory")


def _report_dangling(paths: list[Path], problems: list[tuple[str, str]]) -> None:
    for p in paths:
        if p.is_symlink() and not p.exists():
            problems.append((str(p), f"dangling symbolic link (its target {os.readlink(p)!r} does not exist)"))


def read_manifest(path: Path, problems: list[tuple[str, str]] | None = None) -> list[Utterance]:
    """Items of a manifest: .txt (one path a line), .jsonl or .csv (`path`, optional `id`, `text`, `speaker`).

    A row whose `id` would leave the output directory (absolute, `..`, NUL) is refused: it goes to
    `problems` when given (the other rows go on), else raises ValueError naming the manifest row.
    """
    base = path.parent
    items = []
    for number, row in enumerate(read_manifest_rows(path), 1):
        file = row_audio_path(row, base)
        try:
            if row.get("id") not in (None, ""):
                relative = safe_relative(str(row["id"]), f"{path}: row {number}")
                relative = relative.with_name(relative.name + file.suffix)
            else:
                relative = _relative_or_name(file, base)
        except ValueError as err:
            if problems is None:
                raise
            problems.append((str(path), str(err).removeprefix(f"{path}: ")))
            continue
        items.append(utterance_from_row(row, file, _name(relative)))
    return items


def _file_item(path: Path, relative: Path) -> Utterance:
    return Utterance(path, _name(relative))


def _name(relative: Path) -> str:
    """An item's id: its output-relative path without the extension."""
    return relative.with_suffix("").as_posix()


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
