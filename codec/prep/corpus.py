"""`tokenize_corpus`: plan or resume a run, tokenize this rank's shards, merge once every shard is done."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import torch

from codec.models.codec import Codec
from codec.prep.layout import ERRORS_FILE, _read_json, _shard_done, done_name
from codec.prep.merge import merge_manifest
from codec.prep.model import _as_model, _num_codebooks
from codec.prep.plan import (
    _plan_record,
    _remove_leftovers,
    _write_or_check_plan,
    owned_shards,
    plan_items,
    resolve_rank,
)
from codec.prep.records import PrepFailed, PrepReport
from codec.prep.shards import _run_shards


def tokenize_corpus(inputs: Any, out_dir: str | os.PathLike, model: Codec | str | os.PathLike, *,
                    num_codebooks: int | None = None, shard_size: int = 1000, batch_size: int = 16,
                    num_workers: int = 2, rank: int | None = None, world_size: int | None = None,
                    strict: bool = False, device: str | torch.device | None = None, quiet: bool = False) -> PrepReport:
    """Tokenize a corpus into Parquet shards under `out_dir` (this rank's share); merge when all are done."""
    if shard_size < 1 or batch_size < 1 or num_workers < 0:
        raise ValueError("need shard_size >= 1, batch_size >= 1, num_workers >= 0; "
                         f"got {shard_size}, {batch_size}, {num_workers}")
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
