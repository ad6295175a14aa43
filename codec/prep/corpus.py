"""`tokenize_corpus`: plan or resume a run, tokenize this rank's shards; `merge_manifest` once every shard is done."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import torch

from codec.io.files import atomic_write_bytes
from codec.jobs.failures import ERRORS_FILE
from codec.models.codec import Codec
from codec.prep.plan import (
    COLUMNS,
    MANIFEST_FILE,
    PLAN_FILE,
    PREP_FORMAT,
    PREP_FORMAT_VERSION,
    PrepFailed,
    PrepReport,
    _as_model,
    _num_codebooks,
    _plan_record,
    _read_json,
    _remove_leftovers,
    _shard_done,
    _write_or_check_plan,
    done_name,
    owned_shards,
    plan_items,
    resolve_rank,
    shard_name,
)
from codec.prep.shards import _run_shards


def tokenize_corpus(
    inputs: Any,
    out_dir: str | os.PathLike,
    model: Codec | str | os.PathLike,
    *,
    num_codebooks: int | None = None,
    shard_size: int = 1000,
    batch_size: int = 16,
    num_workers: int = 2,
    rank: int | None = None,
    world_size: int | None = None,
    strict: bool = False,
    device: str | torch.device | None = None,
    quiet: bool = False,
) -> PrepReport:
    """Tokenize a corpus into Parquet shards under `out_dir` (this rank's share); merge when all are done."""
    if shard_size < 1 or batch_size < 1 or num_workers < 0:
        raise ValueError(
            f"need shard_size >= 1, batch_size >= 1, num_workers >= 0; got {shard_size}, {batch_size}, {num_workers}"
        )
    rank, world_size = resolve_rank(rank, world_size)
    out_dir = Path(out_dir)
    codec, checkpoint_sha = _as_model(model, device)
    k = _num_codebooks(codec, num_codebooks)
    items, spec_errors = plan_items(inputs)
    if not items:
        raise ValueError("no input files found" + "".join(f"; {spec}: {why}" for spec, why in spec_errors[:3]))
    num_shards = -(-len(items) // shard_size)
    plan = _plan_record(codec, checkpoint_sha, k, items, shard_size, num_shards, spec_errors)
    _write_or_check_plan(out_dir, plan)
    report = PrepReport(out_dir, rank, world_size, num_shards, errors=list(spec_errors) if rank == 0 else [])
    todo = []
    for index in owned_shards(num_shards, rank, world_size):
        if _shard_done(out_dir, index):
            report.shards_skipped.append(index)
            report.errors += [(e["path"], e["error"]) for e in _read_json(out_dir / done_name(index))["errors"]]
        else:
            _remove_leftovers(out_dir, index)
            todo.append(index)
    if report.shards_skipped and not quiet:
        print(f"rank {rank}: {len(report.shards_skipped)} finished shard(s) kept, {len(todo)} to do", file=sys.stderr)
    _run_shards(codec, k, items, todo, shard_size, batch_size, num_workers, inputs, report, quiet)
    if all(_shard_done(out_dir, i) for i in range(num_shards)):
        report.manifest = merge_manifest(out_dir)
    if strict and report.errors:
        raise PrepFailed(f"{len(report.errors)} item(s) failed (see {out_dir / ERRORS_FILE} or the shard markers)")
    return report


def merge_manifest(out_dir: str | os.PathLike) -> Path:
    """Write out_dir/manifest.json and errors.jsonl from the plan and every shard's done marker."""
    out_dir = Path(out_dir)
    plan = _read_json(out_dir / PLAN_FILE)
    missing = [i for i in range(plan["num_shards"]) if not _shard_done(out_dir, i)]
    if missing:
        raise ValueError(
            f"{out_dir}: {len(missing)} of {plan['num_shards']} shards not finished "
            f"(first: {shard_name(missing[0])}); run the remaining ranks, then merge"
        )
    markers = [_read_json(out_dir / done_name(i)) for i in range(plan["num_shards"])]
    errors = [{"input": path, "error": reason, "id": None, "shard": None} for path, reason in plan["input_errors"]]
    for marker in markers:
        errors += [
            {"input": e["path"], "error": e["error"], "id": e["id"], "shard": marker["shard"]} for e in marker["errors"]
        ]
    atomic_write_bytes(out_dir / ERRORS_FILE, "".join(json.dumps(e) + "\n" for e in errors).encode())
    model = plan["model"]
    seconds = sum(m["audio_seconds"] for m in markers)
    manifest = {
        "format": PREP_FORMAT,
        "format_version": PREP_FORMAT_VERSION,
        **model,
        "rows": sum(m["rows"] for m in markers),
        "hours": seconds / 3600,
        "errors": len(errors),
        "items": plan["num_items"],
        "shard_size": plan["shard_size"],
        "shards": [
            {
                "file": shard_name(m["shard"]),
                "rows": m["rows"],
                "hours": m["audio_seconds"] / 3600,
                "errors": len(m["errors"]),
            }
            for m in markers
        ],
        "data_files": "shard-*.parquet",
        "columns": list(COLUMNS),
        "layout": _layout_hints(model),
    }
    target = out_dir / MANIFEST_FILE
    atomic_write_bytes(target, (json.dumps(manifest, indent=2) + "\n").encode())
    return target


def _layout_hints(model: dict) -> dict:
    k, s, size = model["num_codebooks"], model["num_semantic_codebooks"], model["codebook_size"]
    return {
        "codes_shape": "[num_codebooks][n_frames] per row",
        "semantic_codebooks": list(range(s)),
        "acoustic_codebooks": list(range(s, k)),
        "vocab_size": k * size,
        "flat_token": "codebook k, code c -> k * codebook_size + c",
    }
