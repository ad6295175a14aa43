"""Merging finished shards: manifest.json and errors.jsonl from the plan and every shard's done marker."""

from __future__ import annotations

import json
import os
from pathlib import Path

from codec.io.files import atomic_write_bytes
from codec.prep.layout import (
    COLUMNS,
    ERRORS_FILE,
    MANIFEST_FILE,
    PLAN_FILE,
    PREP_FORMAT,
    PREP_FORMAT_VERSION,
    _read_json,
    _shard_done,
    done_name,
    shard_name,
)


def merge_manifest(out_dir: str | os.PathLike) -> Path:
    """Write out_dir/manifest.json and errors.jsonl from the plan and every shard's done marker."""
    out_dir = Path(out_dir)
    plan = _read_json(out_dir / PLAN_FILE)
    missing = [i for i in range(plan["num_shards"]) if not _shard_done(out_dir, i)]
    if missing:
        raise ValueError(f"{out_dir}: {len(missing)} of {plan['num_shards']} shards not finished "
                         f"(first: {shard_name(missing[0])}); run the remaining ranks, then merge")
    markers = [_read_json(out_dir / done_name(i)) for i in range(plan["num_shards"])]
    errors = [{"input": path, "error": reason, "id": None, "shard": None} for path, reason in plan["input_errors"]]
    for marker in markers:
        errors += [{"input": e["path"], "error": e["error"], "id": e["id"], "shard": marker["shard"]}
                   for e in marker["errors"]]
    atomic_write_bytes(out_dir / ERRORS_FILE, "".join(json.dumps(e) + "\n" for e in errors).encode())
    model = plan["model"]
    seconds = sum(m["audio_seconds"] for m in markers)
    manifest = {
        "format": PREP_FORMAT, "format_version": PREP_FORMAT_VERSION, **model,
        "rows": sum(m["rows"] for m in markers), "hours": seconds / 3600, "errors": len(errors),
        "items": plan["num_items"], "shard_size": plan["shard_size"],
        "shards": [{"file": shard_name(m["shard"]), "rows": m["rows"], "hours": m["audio_seconds"] / 3600,
                    "errors": len(m["errors"])} for m in markers],
        "data_files": "shard-*.parquet", "columns": list(COLUMNS), "layout": _layout_hints(model),
    }
    target = out_dir / MANIFEST_FILE
    atomic_write_bytes(target, (json.dumps(manifest, indent=2) + "\n").encode())
    return target


def _layout_hints(model: dict) -> dict:
    k, s, size = model["num_codebooks"], model["num_semantic_codebooks"], model["codebook_size"]
    return {
        "codes_shape": "[num_codebooks][n_frames] per row",
        "semantic_codebooks": list(range(s)), "acoustic_codebooks": list(range(s, k)),
        "vocab_size": k * size, "flat_token": "codebook k, code c -> k * codebook_size + c",
    }
