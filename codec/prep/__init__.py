"""Dataset tokenization at scale: sorted items cut into fixed Parquet shards; resumable, rank-sharded, merged."""

from __future__ import annotations

from codec.jobs.failures import ERRORS_FILE
from codec.prep.corpus import merge_manifest, tokenize_corpus
from codec.prep.hf import hf_map_function
from codec.prep.plan import (
    COLUMNS,
    MANIFEST_FILE,
    PLAN_FILE,
    PREP_FORMAT,
    PREP_FORMAT_VERSION,
    PrepFailed,
    PrepReport,
    done_name,
    owned_shards,
    plan_items,
    resolve_rank,
    shard_name,
)

__all__ = [
    "COLUMNS",
    "ERRORS_FILE",
    "MANIFEST_FILE",
    "PLAN_FILE",
    "PREP_FORMAT",
    "PREP_FORMAT_VERSION",
    "PrepFailed",
    "PrepReport",
    "done_name",
    "hf_map_function",
    "merge_manifest",
    "owned_shards",
    "plan_items",
    "resolve_rank",
    "shard_name",
    "tokenize_corpus",
]
