"""Output files: atomic writes (temp file + rename) that respect the umask, exclusive creation, confined names."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path, PurePosixPath


def current_umask() -> int:
    """The process umask (read from /proc on Linux, else by setting and restoring it)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _mkstemp_beside(path: Path, suffix: str) -> tuple[int, str]:
    """mkstemp next to `path`, then widened to the mode a plain open() would give (0666 minus the umask)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~current_umask())
    except BaseException:
        os.close(fd)
        Path(tmp).unlink(missing_ok=True)
        raise
    return fd, tmp


def publish(tmp: str | os.PathLike, path: str | os.PathLike, exclusive: bool = False) -> None:
    """Rename a finished temp file to `path`; with `exclusive`, refuse (FileExistsError) if `path` exists."""
    if not exclusive:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)  # atomic create-if-absent: a concurrent writer cannot be overwritten
    except FileExistsError:
        Path(tmp).unlink(missing_ok=True)
        raise FileExistsError(f"{path}: already exists (written by another run?); use --force to overwrite") from None
    except OSError:  # a filesystem without hard links: fall back to a check then a rename
        if os.path.lexists(path):
            Path(tmp).unlink(missing_ok=True)
            raise FileExistsError(
                f"{path}: already exists (written by another run?); use --force to overwrite"
            ) from None
        os.replace(tmp, path)
        return
    Path(tmp).unlink(missing_ok=True)


def atomic_write_bytes(path: Path, data: bytes, exclusive: bool = False) -> None:
    """Write `data` to `path` via a temp file in the same directory and a rename (see `publish`)."""
    path = Path(path)
    fd, tmp = _mkstemp_beside(path, ".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        publish(tmp, path, exclusive)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def temp_path_for(path: Path) -> Path:
    """A hidden temp name beside `path` for writers that need a filename (rename it after)."""
    path = Path(path)
    fd, tmp = _mkstemp_beside(path, ".tmp" + path.suffix)
    os.close(fd)
    return Path(tmp)


def safe_relative(name: str | os.PathLike, where: str = "") -> Path:
    """`name` as a relative path that stays inside any directory it is joined to; ValueError otherwise."""
    text = os.fspath(name)
    problem = None
    if not text or not text.strip():
        problem = "is empty"
    elif "\x00" in text:
        problem = "contains a NUL character"
    elif text.startswith(("/", "\\")) or PurePosixPath(text).is_absolute() or (len(text) > 1 and text[1] == ":"):
        problem = "is an absolute path"
    elif any(part == ".." for part in text.replace("\\", "/").split("/")):
        problem = "contains '..'"
    if problem:
        prefix = f"{where}: " if where else ""
        raise ValueError(f"{prefix}id/path {text!r} {problem}; it must stay inside the output directory")
    parts = [p for p in text.replace("\\", "/").split("/") if p not in ("", ".")]
    if not parts:
        raise ValueError(f"{where + ': ' if where else ''}id/path {text!r} names no file")
    return Path(*parts)


def output_path(out_dir: str | os.PathLike, relative: str | os.PathLike, suffix: str | None = None) -> Path:
    """OUT_DIR/relative (suffix replaced when given), refused unless it lies inside OUT_DIR."""
    rel = safe_relative(relative)
    if suffix is not None:
        rel = rel.with_suffix(suffix)
    out_dir = Path(out_dir)
    target = out_dir / rel
    root = out_dir.resolve()
    if not target.resolve().is_relative_to(root):  # e.g. a symlinked subdirectory pointing elsewhere
        raise ValueError(f"{target}: resolves outside the output directory {out_dir}")
    return target
