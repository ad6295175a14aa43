"""HTTP(S) file transfer for the hub: resumable, retried, size-capped downloads with same-host redirects.

`fetch_file` writes `NAME.part` (resumed with a Range request after a dropped connection), checks
the sha256 (or, with no hash known, that the file parses) and only then renames it into place.
"""

from __future__ import annotations

import json
import logging
import os
import struct
import time
from http.client import HTTPException
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit
from urllib.request import HTTPRedirectHandler, Request, build_opener

from codec.io.weights import PICKLE_MAGIC, sha256_file

ENV_MAX_BYTES = "CODEC_MAX_DOWNLOAD_BYTES"
ENV_REDIRECT_HOSTS = "CODEC_REDIRECT_HOSTS"
DEFAULT_MAX_BYTES = 2 << 30
CHUNK_BYTES = 1 << 20
SMALL_FILE_BYTES = 1 << 20
TIMEOUT_S = 30.0
ATTEMPTS = 3
RETRY_DELAY_S = 1.0
log = logging.getLogger("codec.hub")


class DownloadError(ConnectionError):
    """A download failed (network or server); running again later resumes it."""


class ChecksumError(ValueError):
    """A file's sha256 differs from the expected one."""


class DownloadRefused(DownloadError):
    """A download broke a limit (size, redirect host); retrying does not help."""


class _Transient(Exception):
    """A failure worth retrying (dropped connection, timeout, 5xx)."""


def _mismatch(what: object, expected: str, actual: str) -> str:
    return f"{what}: sha256 mismatch (expected {expected}, got {actual})"


def fetch_small(url: str) -> str | None:
    """The text at `url` (at most 1 MB), or None when the server has no such file (404/403/410)."""
    try:
        with _open(_request(url)) as response:
            data = response.read(SMALL_FILE_BYTES + 1)
    except DownloadError:
        raise
    except HTTPError as err:
        if err.code in (403, 404, 410):
            return None
        raise DownloadError(f"{url}: HTTP {err.code} {err.reason}; try again later") from None
    except (URLError, HTTPException, OSError) as err:
        raise DownloadError(f"{url}: {_reason(err)}; try again later") from None
    if len(data) > SMALL_FILE_BYTES:
        raise ValueError(f"{url}: larger than {SMALL_FILE_BYTES} bytes; not a checksum file")
    return data.decode("utf-8", errors="replace")


def max_download_bytes() -> int:
    """The size cap for one downloaded file: $CODEC_MAX_DOWNLOAD_BYTES, else 2 GiB."""
    text = os.environ.get(ENV_MAX_BYTES, "").strip()
    if not text:
        return DEFAULT_MAX_BYTES
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{ENV_MAX_BYTES}={text!r}: expected a positive number of bytes")
    return int(text)


def fetch_file(url: str, target: Path, expected: str | None = None, size: int | None = None) -> str:
    """Download `url` to `target` via `target.part` (resumed, retried, capped), verify, rename; returns the hash.

    With `expected`, the sha256 must match; without it the file must parse (see `check_parses`).
    `size` (from the registry) caps the file at that many bytes, else $CODEC_MAX_DOWNLOAD_BYTES does.
    """
    part = target.with_name(target.name + ".part")
    limit = size if size is not None else max_download_bytes()
    failures, restarted = 0, False
    while True:
        resumed = part.is_file() and part.stat().st_size > 0
        try:
            _transfer(url, part, limit)
        except _Transient as err:
            failures += 1
            if failures >= ATTEMPTS:
                raise DownloadError(
                    f"{url}: {err} (gave up after {ATTEMPTS} attempts); run again later to resume from {part}"
                ) from None
            time.sleep(RETRY_DELAY_S * failures)
            continue
        actual = sha256_file(part)
        if expected and actual != expected:
            part.unlink()
            if resumed and not restarted:
                restarted = True  # the earlier partial file may be stale: start over once
                continue
            raise ChecksumError(_mismatch(url, expected, actual) + f" for {target.name}; the download was deleted")
        if not expected:
            try:
                check_parses(part, target.name)
            except ValueError as err:
                part.unlink(missing_ok=True)
                raise ValueError(f"{url}: {err}; the download was deleted and no hash recorded") from None
        os.replace(part, target)
        return actual


def check_parses(path: Path, name: str) -> None:
    """ValueError unless a *.json file holds a JSON object and a *.safetensors file is complete."""
    if name.endswith(".json"):
        try:
            data = json.loads(path.read_bytes().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ValueError(f"{name} is not valid JSON ({err})") from None
        if not isinstance(data, dict):
            raise ValueError(f"{name} is not a JSON object")
    elif name.endswith(".safetensors"):
        _check_safetensors_complete(path, name)


def _check_safetensors_complete(path: Path, name: str) -> None:
    total = path.stat().st_size
    with open(path, "rb") as handle:
        head = handle.read(8)
        if head[:4].startswith(PICKLE_MAGIC) or head[:2] in PICKLE_MAGIC:
            raise ValueError(f"{name} looks like a pickle/torch.save file, not safetensors; refused")
        if len(head) < 8:
            raise ValueError(f"{name} is truncated ({total} bytes)")
        (header_len,) = struct.unpack("<Q", head)
        if header_len > min(total - 8, 100 << 20):
            raise ValueError(
                f"{name} is not a complete safetensors file (header of {header_len} bytes, file of {total})"
            )
        try:
            header = json.loads(handle.read(header_len).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ValueError(f"{name} is not a safetensors file (unreadable header)") from None
    ends = [
        v["data_offsets"][1]
        for k, v in header.items()
        if k != "__metadata__" and isinstance(v, dict) and isinstance(v.get("data_offsets"), list)
    ]
    expected = 8 + header_len + max(ends, default=0)
    if expected != total:
        raise ValueError(f"{name} is truncated or padded: the header describes {expected} bytes, got {total}")


def _request(url: str, offset: int = 0) -> Request:
    from codec import __version__

    headers = {"User-Agent": f"codec/{__version__}"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    return Request(url, headers=headers)


class _SameHostRedirects(HTTPRedirectHandler):
    """Follow redirects on the same host (and never https -> http) unless $CODEC_REDIRECT_HOSTS allows the target."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        old, new = urlsplit(req.full_url), urlsplit(newurl)
        allowed = {h.strip().lower() for h in os.environ.get(ENV_REDIRECT_HOSTS, "").split(",") if h.strip()}
        same = (new.hostname or "").lower() == (old.hostname or "").lower() and new.port == old.port
        downgrade = old.scheme == "https" and new.scheme != "https"
        if not ("*" in allowed or (new.hostname or "").lower() in allowed) and (not same or downgrade):
            raise DownloadRefused(
                f"{req.full_url}: redirected to {newurl}, another host; refused "
                f"(allow it with {ENV_REDIRECT_HOSTS}={new.hostname})"
            )
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _open(request: Request):
    return build_opener(_SameHostRedirects).open(request, timeout=TIMEOUT_S)


def _transfer(url: str, part: Path, limit: int) -> None:
    """Append the rest of `url` to `part` (Range request when it has bytes), at most `limit` bytes in all."""
    part.parent.mkdir(parents=True, exist_ok=True)
    offset = part.stat().st_size if part.is_file() else 0
    try:
        response = _open(_request(url, offset))
    except DownloadError:
        raise
    except HTTPError as err:
        _raise_http(url, err, part, offset)
        return  # a 416 for a partial file that is already complete
    except (URLError, HTTPException, OSError) as err:
        raise _Transient(_reason(err)) from None
    with response:
        if offset and (response.status != 206 or not _range_starts_at(response.headers, offset)):
            offset = 0  # the server ignored the range: rewrite from the start
        log.info("downloading %s%s", url, f" from byte {offset}" if offset else "")
        length = response.headers.get("Content-Length")
        if length is not None and length.isdigit() and offset + int(length) > limit:
            part.unlink(missing_ok=True)
            raise DownloadRefused(
                f"{url}: {offset + int(length)} bytes exceeds the limit of {limit} bytes "
                f"(registry size, or raise {ENV_MAX_BYTES})"
            )
        received = _copy_body(response, part, append=offset > 0, limit=limit - offset, url=url)
    if length is not None and length.isdigit() and received < int(length):
        raise _Transient(f"connection closed after {offset + received} of {offset + int(length)} bytes")


def _copy_body(response, part: Path, append: bool, limit: int, url: str) -> int:
    received, over = 0, False
    with open(part, "ab" if append else "wb") as out:
        try:
            while chunk := response.read(CHUNK_BYTES):
                received += len(chunk)
                if received > limit:
                    over = True
                    break
                out.write(chunk)
        except (HTTPException, OSError) as err:
            raise _Transient(f"connection lost after {received} bytes ({_reason(err)})") from None
        finally:
            out.flush()
            os.fsync(out.fileno())
    if over:
        part.unlink(missing_ok=True)
        raise DownloadRefused(f"{url}: more than {limit} bytes; stopped (registry size, or raise {ENV_MAX_BYTES})")
    return received


def _range_starts_at(headers, offset: int) -> bool:
    value = headers.get("Content-Range", "")
    return value.startswith(f"bytes {offset}-")


def _raise_http(url: str, err: HTTPError, part: Path, offset: int) -> None:
    if err.code == 416 and offset:
        total = err.headers.get("Content-Range", "").rpartition("/")[2]
        if total.isdigit() and int(total) == offset:
            return  # the partial file is already complete
        part.unlink(missing_ok=True)
        raise _Transient("HTTP 416 for the partial file; starting over")
    if err.code in (404, 410):
        raise FileNotFoundError(f"{url}: HTTP {err.code} {err.reason} (not a checkpoint base URL?)")
    if err.code >= 500 or err.code in (408, 429):
        raise _Transient(f"HTTP {err.code} {err.reason}")
    raise DownloadError(f"{url}: HTTP {err.code} {err.reason}")


def _first_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return lines[0] if lines else type(err).__name__


def _reason(err: BaseException) -> str:
    return str(getattr(err, "reason", None) or err) or type(err).__name__
