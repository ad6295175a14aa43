"""`codec download NAME|URL`: fetch a checkpoint into the cache and print its directory; `--list` shows the registry."""

from __future__ import annotations

import argparse
import json
import logging
import sys

EPILOG = """\
MODEL may be a registered name (see --list), hf://org/repo@revision, or an http(s) base URL serving
config.json and model.safetensors. Every file is checked against its sha256 (from the registry, the
server's checksums.json / NAME.sha256, or recorded on first download) before it is used.
Add registries with --registry FILE or CODEC_REGISTRY=FILE[:FILE...]; the cache is $CODEC_CACHE
(default ~/.cache/codec); CODEC_OFFLINE=1 works from the cache only.
example: MODEL_DIR=$(codec download https://example.org/models/my-codec/)
"""


def add_parser(sub) -> None:
    """Register `download`."""
    cmd = sub.add_parser(
        "download",
        help="download a registered or remote checkpoint",
        description="Download a checkpoint (verified by sha256) and print its local directory.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cmd.add_argument("model", nargs="?", metavar="MODEL", help="registered name, hf://org/repo@rev or http(s) URL")
    cmd.add_argument("--list", action="store_true", help="list the registered models instead")
    cmd.add_argument("--json", action="store_true", help="with --list: print JSON")
    cmd.add_argument("--cache-dir", default=None, help="cache root (default $CODEC_CACHE or ~/.cache/codec)")
    cmd.add_argument("--offline", action="store_true", default=None, help="use the cache only (like CODEC_OFFLINE=1)")
    cmd.add_argument(
        "--registry",
        action="append",
        default=None,
        metavar="FILE",
        help="extra registry file (repeatable; its entries override the packaged ones)",
    )


def run(args: argparse.Namespace) -> int:
    """Print the checkpoint directory (or the registry listing); network failures exit with status 2."""
    from codec.hub.sources import DownloadError, resolve

    if args.list:
        return _list(args)
    if not args.model:
        raise ValueError("give a MODEL (name, hf://org/repo@rev or URL) or --list")
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        directory = resolve(args.model, offline=args.offline, cache_dir=args.cache_dir, registry=args.registry)
    except (DownloadError, ImportError) as err:
        print(f"codec download: error: {err}", file=sys.stderr)
        return 2
    print(directory)
    return 0


def _list(args: argparse.Namespace) -> int:
    from codec.hub.registry import load_registry

    rows = [entry.summary() for _, entry in sorted(load_registry(args.registry).items())]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no registered models (add a registry with --registry FILE or CODEC_REGISTRY)", file=sys.stderr)
        return 0
    columns = ("name", "sample_rate", "frame_rate", "num_codebooks", "codebook_size", "license", "source")
    table = [columns] + [tuple("-" if r[c] is None else str(r[c]) for c in columns) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(columns))]
    for row in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    return 0
