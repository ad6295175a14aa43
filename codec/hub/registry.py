"""Model registry: names of released checkpoints -> where to get them and the sha256 of every file.

The packaged registry (`codec/pretrained/registry.json`) is read first, then every file named by
the `CODEC_REGISTRY` environment variable (several separated by `os.pathsep`), then files passed as
arguments; a later entry with the same name replaces an earlier one.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

REGISTRY_FORMAT = "codec.registry"
REGISTRY_FORMAT_VERSION = 1
PACKAGE_DIR = Path(__file__).resolve().parents[1] / "pretrained"
PACKAGED_REGISTRY = PACKAGE_DIR / "registry.json"
ENV_REGISTRY = "CODEC_REGISTRY"
REQUIRED_FILES = ("config.json", "model.safetensors")

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
FILENAME_RE = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]*$")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
HF_RE = re.compile(
    r"^hf://(?P<repo>[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*)(?:@(?P<rev>[^\s@/][^\s@]*))?$"
)
INT_FIELDS = ("sample_rate", "num_codebooks", "num_semantic_codebooks", "codebook_size")
TEXT_FIELDS = ("description", "teacher", "training_data", "license", "card")
ENTRY_KEYS = {"source", "files", "sizes", "frame_rate", *INT_FIELDS, *TEXT_FIELDS}

_T = TypeVar("_T")

RegistrySpec = str | os.PathLike | Iterable[str | os.PathLike] | Mapping[str, "RegistryEntry"] | None


@dataclass(frozen=True)
class RegistryEntry:
    """One released checkpoint: its source, file hashes and the facts a user picks it by."""

    name: str
    source: str
    files: dict[str, str]
    origin: Path
    sample_rate: int | None = None
    frame_rate: float | None = None
    num_codebooks: int | None = None
    num_semantic_codebooks: int | None = None
    codebook_size: int | None = None
    description: str | None = None
    teacher: str | None = None
    training_data: str | None = None
    license: str | None = None
    card: str | None = None
    sizes: dict[str, int] | None = None

    @property
    def kind(self) -> str:
        """'hf', 'url' or 'package'."""
        return source_kind(self.source)

    def summary(self) -> dict[str, object]:
        """What `codec download --list` shows."""
        keys = (
            "source",
            "sample_rate",
            "frame_rate",
            "num_codebooks",
            "num_semantic_codebooks",
            "codebook_size",
            "teacher",
            "training_data",
            "license",
            "card",
            "description",
        )
        return {"name": self.name, **{k: getattr(self, k) for k in keys}, "registry": str(self.origin)}


def source_kind(source: str) -> str:
    """Classify a registry `source`: 'hf' (hf://org/repo@rev), 'url' (http(s)://...) or 'package'."""
    if source.startswith("hf://"):
        return "hf"
    if source.startswith(("https://", "http://")):
        return "url"
    if source.startswith("package:"):
        return "package"
    raise ValueError(f"source {source!r}: expected hf://org/repo@revision, an http(s):// base URL or package:")


def parse_hf(source: str) -> tuple[str, str | None]:
    """`hf://org/repo[@revision]` -> (repo_id, revision or None); ValueError for anything else."""
    match = HF_RE.match(source)
    if not match or ".." in match["repo"]:
        raise ValueError(f"{source!r}: expected hf://org/repo or hf://org/repo@revision")
    return match["repo"], match["rev"]


def parse_entry(name: str, data: object, origin: Path) -> RegistryEntry:
    """Validate one registry entry; problems raise ValueError naming the file and the model."""
    where = f"{origin}: model {name!r}"
    if not NAME_RE.match(name):
        raise ValueError(f"{where}: names use letters, digits, '.', '_' and '-' and start with a letter or digit")
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected an object, got {type(data).__name__}")
    unknown = sorted(set(data) - ENTRY_KEYS)
    if unknown:
        raise ValueError(f"{where}: unknown keys {unknown}; allowed: {sorted(ENTRY_KEYS)}")
    source = data.get("source")
    if not isinstance(source, str):
        raise ValueError(f"{where}: 'source' must be a string (hf://org/repo@revision, https://.../ or package:)")
    try:
        kind = source_kind(source)
        if kind == "hf" and parse_hf(source)[1] is None:
            raise ValueError(f"{source!r}: pin a revision (hf://org/repo@COMMIT_OR_TAG)")
        if kind == "package":
            package_dir(source, name)
    except ValueError as err:
        raise ValueError(f"{where}: {err}") from None
    files = _parse_files(data.get("files"), where)
    sizes = _parse_sizes(data.get("sizes"), files, where)
    facts: dict[str, Any] = {k: _typed(data.get(k), int, k, where) for k in INT_FIELDS}
    facts.update({k: _typed(data.get(k), str, k, where) for k in TEXT_FIELDS})
    frame_rate = _typed(data.get("frame_rate"), (int, float), "frame_rate", where)
    return RegistryEntry(
        name=name,
        source=source,
        files=files,
        origin=origin,
        sizes=sizes,
        frame_rate=None if frame_rate is None else float(frame_rate),
        **facts,
    )


def _parse_files(files: object, where: str) -> dict[str, str]:
    if not isinstance(files, dict):
        raise ValueError(f"{where}: 'files' must map file names to sha256 hex digests")
    missing = [f for f in REQUIRED_FILES if f not in files]
    if missing:
        raise ValueError(f"{where}: 'files' must list {list(REQUIRED_FILES)}; missing {missing}")
    for filename, digest in files.items():
        if not FILENAME_RE.match(filename) or filename.endswith(".part"):
            raise ValueError(f"{where}: file name {filename!r} must be a plain name (no directories)")
        if not isinstance(digest, str) or not SHA256_RE.match(digest):
            raise ValueError(f"{where}: sha256 of {filename} must be 64 lowercase hex digits, got {digest!r}")
    return dict(files)


def _parse_sizes(sizes: object, files: dict[str, str], where: str) -> dict[str, int] | None:
    if sizes is None:
        return None
    if not isinstance(sizes, dict) or not all(
        name in files and isinstance(n, int) and not isinstance(n, bool) and n >= 0 for name, n in sizes.items()
    ):
        raise ValueError(f"{where}: 'sizes' must map names listed in 'files' to byte counts (integers >= 0)")
    return dict(sizes)


def package_dir(source: str, name: str) -> Path:
    """The directory of a `package:[NAME]` source, always a direct child of codec/pretrained."""
    sub = source[len("package:") :] or name
    if not NAME_RE.match(sub) or sub in (".", ".."):
        raise ValueError(
            f"source {source!r}: package sources name a directory inside codec/pretrained "
            "(letters, digits, '.', '_', '-'; no '/' or '..')"
        )
    directory = PACKAGE_DIR / sub
    if directory.resolve().parent != PACKAGE_DIR.resolve():
        raise ValueError(f"source {source!r}: resolves outside codec/pretrained")
    return directory


def _typed(value: object, kind: type[_T] | tuple[type[_T], ...], key: str, where: str) -> _T | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ValueError(f"{where}: {key!r} has the wrong type ({type(value).__name__})")
    return value


def read_registry(path: str | os.PathLike) -> dict[str, RegistryEntry]:
    """Entries of one registry file; a malformed file raises ValueError naming it."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"{path}: registry file not found")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(data, dict) or data.get("format") != REGISTRY_FORMAT:
        raise ValueError(f'{path}: not a codec registry (expected "format": "{REGISTRY_FORMAT}")')
    version = data.get("format_version")
    if not isinstance(version, int) or not 1 <= version <= REGISTRY_FORMAT_VERSION:
        raise ValueError(
            f"{path}: registry format_version {version!r} is not supported (max {REGISTRY_FORMAT_VERSION})"
        )
    unknown = sorted(set(data) - {"format", "format_version", "models"})
    if unknown:
        raise ValueError(f"{path}: unknown top-level keys {unknown}")
    models = data.get("models")
    if not isinstance(models, dict):
        raise ValueError(f"{path}: 'models' must be an object mapping names to entries")
    return {name: parse_entry(name, entry, path.resolve()) for name, entry in models.items()}


def registry_paths(extra: str | os.PathLike | Iterable[str | os.PathLike] | None = None) -> list[Path]:
    """Registry files in reading order: packaged, then $CODEC_REGISTRY, then `extra`."""
    paths = [PACKAGED_REGISTRY]
    paths += [Path(p) for p in os.environ.get(ENV_REGISTRY, "").split(os.pathsep) if p.strip()]
    if isinstance(extra, (str, os.PathLike)):
        paths.append(Path(extra))
    elif extra is not None:
        paths += [Path(p) for p in extra]
    return paths


def load_registry(registry: RegistrySpec = None) -> dict[str, RegistryEntry]:
    """All known models: a mapping passes through; paths add to the packaged + $CODEC_REGISTRY files."""
    if isinstance(registry, Mapping):  # RegistrySpec's Mapping[str, RegistryEntry] (paths are never mappings)
        return dict(cast("Mapping[str, RegistryEntry]", registry))
    entries: dict[str, RegistryEntry] = {}
    for path in registry_paths(registry):
        entries.update(read_registry(path))
    return entries


def lookup(name: str, registry: RegistrySpec = None) -> RegistryEntry:
    """The entry called `name`; an unknown name raises FileNotFoundError listing the known ones."""
    entries = load_registry(registry)
    if name not in entries:
        known = ", ".join(sorted(entries)) or "none"
        raise FileNotFoundError(
            f"{name!r} is not a checkpoint directory nor a registered model "
            f"(registered: {known}; add your own with {ENV_REGISTRY}=path/to/registry.json)"
        )
    return entries[name]
