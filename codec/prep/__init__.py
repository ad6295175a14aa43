"""Dataset tokenization at scale: sorted items cut into fixed Parquet shards; resumable, rank-sharded, merged."""

from __future__ import annotations

from codec.prep.corpus import tokenize_corpus
from codec.prep.hf import hf_map_function
from codec.prep.layout import (
    COLUMNS,
    ERRORS_FILE,
    MANIFEST_FILE,
    PLAN_FILE,
    PREP_FORMAT,
    PREP_FORMAT_VERSION,
    done_name,
    shard_name,
)
from codec.prep.merge import merge_manifest
from codec.prep.plan import owned_shards, plan_items, resolve_rank
from codec.prep.records import PrepFailed, PrepItem, PrepReport

__all__ = [
    "COLUMNS", "ERRORS_FILE", "MANIFEST_FILE", "PLAN_FILE", "PREP_FORMAT", "PREP_FORMAT_VERSION", "PrepFailed",
    "PrepItem", "PrepReport", "done_name", "hf_map_function", "merge_manifest", "owned_shards", "plan_items",
    "resolve_rank", "shard_name", "tokenize_corpus",
]
