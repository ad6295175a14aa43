"""What a prep run is: output layout, items and report, the model, the plan.json record, ranks, resuming."""

from __future__ import annotations

import glob
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from codec.data.manifest import Utterance
from codec.hub.sources import resolve
from codec.io.files import atomic_write_bytes
from codec.io.weights import sha256_file
from codec.jobs.inputs import collect_inputs
from codec.models.codec import WEIGHTS_FILE, Codec

PREP_FORMAT = "codec.prep"
PREP_FORMAT_VERSION = 1
PLAN_FILE = "plan.json"
MANIFEST_FILE = "manifest.json"
COLUMNS = ("id", "path", "duration", "sample_rate", "num_samples", "n_frames", "codes", "text", "speaker")


def shard_name(index: int) -> str:
    """`shard-00042.parquet`."""
    return f"shard-{index:05d}.parquet"


def done_name(index: int) -> str:
    """`shard-00042.done.json`: written after the shard, records its rows, seconds and errors."""
    return f"shard-{index:05d}.done.json"


def _read_json(path: Path) -> dict:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not found (is this a `codec prep` output directory?)")
    return json.loads(path.read_text())


def _shard_done(out_dir: Path, index: int) -> bool:
    return (out_dir / done_name(index)).is_file() and (out_dir / shard_name(index)).is_file()


@dataclass
class PrepReport:
    """One rank's run: shards written/skipped, rows and audio seconds written now, failures in all its shards."""

    out_dir: Path
    rank: int
    world_size: int
    num_shards: int
    shards_written: list[int] = field(default_factory=list)
    shards_skipped: list[int] = field(default_factory=list)
    rows: int = 0
    audio_seconds: float = 0.0
    errors: list[tuple[str, str]] = field(default_factory=list)
    manifest: Path | None = None


class PrepFailed(RuntimeError):
    """Raised by tokenize_corpus(strict=True) when any item failed (outputs are still written)."""


def _as_model(model: Codec | str | os.PathLike, device: str | torch.device | None) -> tuple[Codec, str | None]:
    if isinstance(model, Codec):
        return (model.to(device) if device is not None else model).eval(), None
    directory = resolve(model)
    return Codec.from_pretrained(directory, device=device or "cpu"), sha256_file(directory / WEIGHTS_FILE)


def _num_codebooks(codec: Codec, num_codebooks: int | None) -> int:
    k = codec.num_codebooks if num_codebooks is None else int(num_codebooks)
    if not 1 <= k <= codec.num_codebooks:
        raise ValueError(f"num_codebooks must be in [1, {codec.num_codebooks}], got {num_codebooks}")
    return k


def _codes_dtype(codebook_size: int) -> type:
    return np.int16 if codebook_size <= 2**15 else np.int32


def resolve_rank(rank: int | None = None, world_size: int | None = None) -> tuple[int, int]:
    """(rank, world_size): arguments, else torchrun's RANK / WORLD_SIZE, else (0, 1)."""
    rank = int(os.environ.get("RANK", 0)) if rank is None else int(rank)
    world_size = int(os.environ.get("WORLD_SIZE", 1)) if world_size is None else int(world_size)
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"need 0 <= rank < world_size, got rank={rank}, world_size={world_size}")
    return rank, world_size


def owned_shards(num_shards: int, rank: int, world_size: int) -> list[int]:
    """Shard i belongs to rank i % world_size."""
    return list(range(rank, num_shards, world_size))


def plan_items(inputs: Any) -> tuple[list[Utterance], list[tuple[str, str]]]:
    """Items sorted by id, then path, and the inputs that failed (specs that matched nothing, repeated ids)."""
    if _is_hf_dataset(inputs):
        items, spec_errors = _hf_items(inputs), []
    else:
        specs = [str(inputs)] if isinstance(inputs, (str, os.PathLike)) else [str(s) for s in inputs]
        collected = collect_inputs(specs)
        items, spec_errors = collected.items, list(collected.errors)
    items.sort(key=lambda item: (item.id, _path_text(item)))
    kept: dict[str, Utterance] = {}
    for item in items:
        if item.id in kept:
            spec_errors.append((item.source, f"duplicate id {item.id!r} (also {kept[item.id].source})"))
        else:
            kept[item.id] = item
    return list(kept.values()), spec_errors


def _path_text(item: Utterance) -> str:
    """The item's file as plan.json's digest spells it ("" for a datasets row)."""
    return "" if item.row is not None else str(item.path)


def _plan_record(
    codec: Codec,
    sha: str | None,
    k: int,
    items: list[Utterance],
    shard_size: int,
    num_shards: int,
    spec_errors: list[tuple[str, str]],
) -> dict:
    digest = hashlib.sha256("".join(f"{i.id}\t{_path_text(i)}\n" for i in items).encode()).hexdigest()
    model = {
        "model_id": codec.model_id,
        "checkpoint_sha256": sha,
        "num_codebooks": k,
        "model_num_codebooks": codec.num_codebooks,
        "num_semantic_codebooks": min(codec.cfg.quantizer.num_semantic_codebooks, k),
        "codebook_size": codec.codebook_size,
        "frame_rate": codec.frame_rate,
        "sample_rate": codec.sample_rate,
        "codes_dtype": np.dtype(_codes_dtype(codec.codebook_size)).name,
    }
    return {
        "format": PREP_FORMAT,
        "format_version": PREP_FORMAT_VERSION,
        "model": model,
        "num_items": len(items),
        "items_sha256": digest,
        "shard_size": shard_size,
        "num_shards": num_shards,
        "input_errors": [list(e) for e in spec_errors],
    }


def _write_or_check_plan(out_dir: Path, plan: dict) -> None:
    path = out_dir / PLAN_FILE
    if path.is_file():
        old = _read_json(path)
        changed = [
            _difference(key, old.get(key), plan[key])
            for key in ("model", "items_sha256", "shard_size", "num_shards")
            if old.get(key) != plan[key]
        ]
        if changed:
            raise ValueError(
                f"{out_dir} holds a prep run with a different {'; '.join(changed)}; "
                "use a new output directory (or delete it) to start over"
            )
        return
    atomic_write_bytes(path, (json.dumps(plan, indent=2) + "\n").encode())


def _difference(key: str, old: object, new: object) -> str:
    """What differs between a directory's plan and this run, in words (`codebook count (8 there, 4 now)`)."""
    names = {"items_sha256": "input list", "shard_size": "shard size", "num_shards": "shard count"}
    if key != "model" or not isinstance(old, dict) or not isinstance(new, dict):
        return f"{names.get(key, key)} ({old} there, {new} now)" if key != "items_sha256" else names[key]
    diff = [k for k in new if old.get(k) != new[k]]
    if set(diff) <= {"num_codebooks", "num_semantic_codebooks"}:
        return f"codebook count ({old.get('num_codebooks')} there, {new['num_codebooks']} now)"
    return "model (" + ", ".join(f"{k} {old.get(k)!r} there, {new[k]!r} now" for k in diff[:3]) + ")"


def _remove_leftovers(out_dir: Path, index: int) -> None:
    """Delete a half-finished shard: temp files, and a parquet whose done marker never came."""
    for name in (shard_name(index), done_name(index)):
        for tmp in glob.glob(str(out_dir / f".{glob.escape(name)}.*.tmp*")):
            Path(tmp).unlink(missing_ok=True)
    (out_dir / shard_name(index)).unlink(missing_ok=True)
    (out_dir / done_name(index)).unlink(missing_ok=True)


def _is_hf_dataset(obj: Any) -> bool:
    return hasattr(obj, "column_names") and "audio" in getattr(obj, "column_names", ()) and hasattr(obj, "__getitem__")


def _hf_items(ds: Any) -> list[Utterance]:
    columns = ds.column_names
    ids = [str(v) for v in ds["id"]] if "id" in columns else [f"{n:09d}" for n in range(len(ds))]
    texts = ds["text"] if "text" in columns else [None] * len(ds)
    speaker_col = next((c for c in ("speaker", "speaker_id") if c in columns), None)
    speakers = [None if s is None else str(s) for s in ds[speaker_col]] if speaker_col else [None] * len(ds)
    return [Utterance(Path(), ids[n], text=texts[n], speaker=speakers[n], row=n) for n in range(len(ds))]
