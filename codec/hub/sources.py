"""Resolve a model reference to a checkpoint directory: local path, registered name, hf://, http(s)://.

URL downloads use only the standard library: each file goes to `NAME.part` (resumed with an HTTP
Range request after a dropped connection), is checked against its sha256 and only then renamed
into place; `.codec-download.json` is written last and records the verified hashes. Cached and
packaged files are hashed again on every resolve (cheap for checkpoints of tens of MB).

Limits: a file may not exceed its registry size (when the entry lists `sizes`) or
$CODEC_MAX_DOWNLOAD_BYTES (default 2 GiB); redirects to another host (or from https to http) are
refused unless the host is listed in $CODEC_REDIRECT_HOSTS (comma-separated, `*` for any); a file
with no known hash must parse (JSON object, complete safetensors) before it is installed and its
hash recorded. One process at a time downloads into a cache directory (a lock file beside it).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path

from codec.hub.registry import (
    FILENAME_RE,
    REQUIRED_FILES,
    SHA256_RE,
    RegistryEntry,
    RegistrySpec,
    lookup,
    package_dir,
    parse_hf,
)
from codec.hub.transfer import (  # noqa: F401 (DownloadRefused, ENV_*, fetch_small, check_parses: public via codec.hub.sources)
    ENV_MAX_BYTES,
    ENV_REDIRECT_HOSTS,
    ChecksumError,
    DownloadError,
    DownloadRefused,
    _first_line,
    _mismatch,
    check_parses,
    fetch_file,
    fetch_small,
)
from codec.io.files import atomic_write_bytes
from codec.io.weights import sha256_file

ENV_CACHE = "CODEC_CACHE"
ENV_OFFLINE = "CODEC_OFFLINE"
MANIFEST = ".codec-download.json"
CHECKSUMS_FILE = "checksums.json"
HF_DEFAULT_FILES = ("config.json", "model.safetensors", "README.md")


def resolve(
    source: str | os.PathLike,
    *,
    offline: bool | None = None,
    cache_dir: str | os.PathLike | None = None,
    registry: RegistrySpec = None,
) -> Path:
    """A verified checkpoint directory for a local path, registered name, hf://org/repo@rev or http(s) base URL."""
    text = os.fspath(source)
    if text.startswith("hf://"):
        return hf_snapshot(text, offline=offline, cache_dir=cache_dir)
    if text.startswith(("https://", "http://")):
        return download_url(text, offline=offline, cache_dir=cache_dir)
    path = Path(text).expanduser()
    if path.exists() or _looks_like_path(text):
        return _local_checkpoint(path, text)
    return resolve_entry(lookup(text, registry), offline=offline, cache_dir=cache_dir)


def _looks_like_path(text: str) -> bool:
    return "/" in text or os.sep in text or text.startswith((".", "~")) or text == ""


def _local_checkpoint(path: Path, source: str) -> Path:
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise FileNotFoundError(f"{path}: not a checkpoint directory (no config.json)")
        return path
    if path.is_file() and path.name in REQUIRED_FILES:
        return path.parent
    raise FileNotFoundError(f"{source}: no checkpoint directory at this path")


def resolve_entry(
    entry: RegistryEntry, *, offline: bool | None = None, cache_dir: str | os.PathLike | None = None
) -> Path:
    """The verified local directory of a registry entry, downloading what is missing."""
    if entry.kind == "package":
        directory = package_dir(entry.source, entry.name)
        check_files(directory, entry.files, hint="reinstall the package")
        return directory
    if entry.kind == "hf":
        directory = hf_snapshot(entry.source, files=entry.files, offline=offline, cache_dir=cache_dir)
        try:
            check_files(directory, entry.files, hint=f"delete {directory} from the Hugging Face cache")
        except ChecksumError:
            if is_offline(offline):
                raise
            directory = hf_snapshot(entry.source, files=entry.files, cache_dir=cache_dir, force=True)
            check_files(directory, entry.files, hint="the repository does not hold the registered files")
        return directory
    return download_url(entry.source, files=entry.files, offline=offline, cache_dir=cache_dir, sizes=entry.sizes)


def check_files(directory: Path, files: Mapping[str, str], hint: str = "") -> None:
    """Raise FileNotFoundError / ChecksumError unless every file in `files` has its sha256."""
    for name, expected in files.items():
        path = directory / name
        if not path.is_file():
            raise FileNotFoundError(f"{path}: missing checkpoint file" + (f"; {hint}" if hint else ""))
        actual = sha256_file(path)
        if actual != expected:
            raise ChecksumError(_mismatch(path, expected, actual) + (f"; {hint}" if hint else ""))


def is_offline(offline: bool | None = None) -> bool:
    """`offline` if given, else whether $CODEC_OFFLINE is set to 1/true/yes/on."""
    if offline is not None:
        return bool(offline)
    return os.environ.get(ENV_OFFLINE, "").strip().lower() in ("1", "true", "yes", "on")


def cache_root(cache_dir: str | os.PathLike | None = None) -> Path:
    """Where downloads are cached: `cache_dir`, else $CODEC_CACHE, else $XDG_CACHE_HOME/codec or ~/.cache/codec."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    if os.environ.get(ENV_CACHE):
        return Path(os.environ[ENV_CACHE]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "codec"


def normalize_base_url(url: str) -> str:
    """A checkpoint base URL ending in '/' (a trailing /config.json or /model.safetensors is dropped)."""
    if "?" in url or "#" in url:
        raise ValueError(f"{url}: a checkpoint base URL cannot have a query or fragment")
    for name in REQUIRED_FILES:
        if url.endswith("/" + name):
            url = url[: -len(name)]
    return url if url.endswith("/") else url + "/"


def url_cache_dir(url: str, cache_dir: str | os.PathLike | None = None) -> Path:
    """The cache directory of a base URL: CACHE_ROOT/<first 16 hex of sha256(url)>."""
    return cache_root(cache_dir) / hashlib.sha256(normalize_base_url(url).encode()).hexdigest()[:16]


# ---- plain http(s) downloads ------------------------------------------------------------------
def download_url(
    url: str,
    files: Mapping[str, str] | None = None,
    *,
    offline: bool | None = None,
    cache_dir: str | os.PathLike | None = None,
    sizes: Mapping[str, int] | None = None,
) -> Path:
    """Download (or reuse from the cache) a checkpoint at a base URL; `files` maps names to known sha256."""
    base = normalize_base_url(url)
    directory = url_cache_dir(base, cache_dir)
    with _cache_lock(directory):
        return _download_locked(base, directory, files, offline, sizes or {})


@contextlib.contextmanager
def _cache_lock(directory: Path) -> Iterator[None]:
    """Hold an exclusive lock on `directory` (a `.lock` file beside it) so concurrent first downloads queue."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # no flock (Windows): unlocked, as before
        yield
        return
    with open(directory.with_name(directory.name + ".lock"), "a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _download_locked(
    base: str, directory: Path, files: Mapping[str, str] | None, offline: bool | None, sizes: Mapping[str, int]
) -> Path:
    manifest = _read_manifest(directory)
    known = dict(files) if files else manifest.get("files", {})
    sources = {n: "registry" for n in known} if files else manifest.get("checked_against", {})
    if known and _cache_is_good(directory, known, offline):
        _write_manifest(directory, base, known, sources)
        return directory
    if is_offline(offline):
        raise FileNotFoundError(
            f"offline: {base} is not (completely) in the cache {directory}; "
            f"run `codec download {base}` while online, or unset {ENV_OFFLINE}"
        )
    if not known:
        known, sources = _server_checksums(base)
    _manifest_path(directory).unlink(missing_ok=True)
    recorded: dict[str, str] = {}
    for name in list(files) if files else list(REQUIRED_FILES):
        target = directory / name
        if known.get(name) and target.is_file() and sha256_file(target) == known[name]:
            recorded[name] = known[name]
            continue
        recorded[name] = fetch_file(base + name, target, known.get(name), sizes.get(name))
        if not known.get(name):
            sources[name] = "recorded on first download"
            warnings.warn(
                f"{base}{name}: no registry entry, {CHECKSUMS_FILE} or {name}.sha256 to verify it "
                f"against; recorded sha256 {recorded[name]} (later loads are checked against it)",
                stacklevel=2,
            )
    _write_manifest(directory, base, recorded, sources)
    return directory


def _cache_is_good(directory: Path, files: Mapping[str, str], offline: bool | None) -> bool:
    """Whether every file is cached with its hash; a mismatching file is deleted (or reported offline)."""
    good = True
    for name, expected in files.items():
        if not _plain_name(name):
            raise ValueError(f"{directory}: refusing file name {name!r} (not a plain file name)")
        path = directory / name
        if not path.is_file():
            good = False
            continue
        actual = sha256_file(path)
        if actual != expected:
            if is_offline(offline):
                raise ChecksumError(_mismatch(path, expected, actual) + "; cannot download it again while offline")
            warnings.warn(_mismatch(path, expected, actual) + "; deleting it and downloading it again", stacklevel=3)
            path.unlink()
            good = False
    return good


def _manifest_path(directory: Path) -> Path:
    return directory / MANIFEST


def _read_manifest(directory: Path) -> dict:
    path = _manifest_path(directory)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, dict) or not all(isinstance(v, str) and SHA256_RE.match(v) for v in files.values()):
        return {}
    if not all(isinstance(k, str) and _plain_name(k) for k in files):
        warnings.warn(f"{path}: lists file names that are not plain names in this directory; ignoring it", stacklevel=3)
        return {}
    return data


def _plain_name(name: str) -> bool:
    """A file name with no directory part (never `..`, `/`, a `.part` temp name or the manifest)."""
    return bool(FILENAME_RE.match(name)) and not name.endswith(".part") and name != MANIFEST


def _write_manifest(directory: Path, base: str, files: Mapping[str, str], sources: Mapping[str, str]) -> None:
    data = {
        "format": "codec.download",
        "format_version": 1,
        "url": base,
        "files": dict(files),
        "checked_against": {n: sources.get(n, "registry") for n in files},
    }
    text = json.dumps(data, indent=2) + "\n"
    path = _manifest_path(directory)
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        atomic_write_bytes(path, text.encode())


def _server_checksums(base: str) -> tuple[dict[str, str], dict[str, str]]:
    """Hashes the server publishes: checksums.json ({name: sha256}) or NAME.sha256 files."""
    hashes: dict[str, str] = {}
    sources: dict[str, str] = {}
    listing = fetch_small(base + CHECKSUMS_FILE)
    if listing is not None:
        try:
            data = json.loads(listing)
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ValueError(f"{base}{CHECKSUMS_FILE}: not valid JSON ({err})") from None
        if not isinstance(data, dict):
            raise ValueError(f"{base}{CHECKSUMS_FILE}: expected an object mapping file names to sha256")
        for name in REQUIRED_FILES:
            if name in data:
                hashes[name] = _checked_digest(data[name], f"{base}{CHECKSUMS_FILE}")
                sources[name] = CHECKSUMS_FILE
    for name in REQUIRED_FILES:
        if name not in hashes:
            text = fetch_small(base + name + ".sha256")
            if text is not None:
                hashes[name] = _checked_digest((text.split() or [""])[0], f"{base}{name}.sha256")
                sources[name] = name + ".sha256"
    return hashes, sources


def _checked_digest(value: object, where: str) -> str:
    digest = value.strip().lower() if isinstance(value, str) else ""
    if not SHA256_RE.match(digest):
        raise ValueError(f"{where}: expected a sha256 hex digest, got {value!r}")
    return digest


# ---- Hugging Face Hub -------------------------------------------------------------------------
def hf_snapshot(
    source: str,
    *,
    files: Mapping[str, str] | None = None,
    offline: bool | None = None,
    cache_dir: str | os.PathLike | None = None,
    force: bool = False,
) -> Path:
    """Download (or find in the Hugging Face cache) `hf://org/repo[@revision]`; returns the snapshot directory."""
    repo_id, revision = parse_hf(source)
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise ImportError(f"{source}: hf:// sources need huggingface_hub: pip install 'speechcodec[hub]'") from None
    kwargs = {
        "revision": revision,
        "allow_patterns": list(files or HF_DEFAULT_FILES),
        "local_files_only": is_offline(offline),
        "force_download": force,
    }
    if cache_dir is not None:
        kwargs["cache_dir"] = str(cache_root(cache_dir) / "huggingface")
    try:
        directory = Path(snapshot_download(repo_id, **kwargs))
    except FileNotFoundError as err:
        if is_offline(offline):
            raise FileNotFoundError(
                f"{source}: not in the Hugging Face cache and offline ({ENV_OFFLINE} / "
                f"--offline); download it while online first ({_first_line(err)})"
            ) from None
        if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
            raise FileNotFoundError(
                f"{source}: not in the Hugging Face cache and HF_HUB_OFFLINE is set; "
                f"unset it to download ({_first_line(err)})"
            ) from None
        raise DownloadError(
            f"{source}: could not download from the Hugging Face Hub (no network or the Hub "
            f"is unreachable) and it is not in the cache ({_first_line(err)})"
        ) from None
    if not (directory / "config.json").is_file():
        raise FileNotFoundError(f"{source}: the repository has no config.json at revision {revision or 'main'}")
    return directory
