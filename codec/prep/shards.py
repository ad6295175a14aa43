"""The shard loop: decode batches, tokenize them, and write each shard plus its done marker once complete."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import torch
from tqdm import tqdm

from codec.io.files import atomic_write_bytes
from codec.models.codec import Codec
from codec.prep.decode import _AudioItems, _LazyBatches, _one_line, _worker_init
from codec.prep.hf import _is_hf_dataset
from codec.prep.layout import done_name, shard_name
from codec.prep.model import _codes_dtype
from codec.prep.parquet import _write_parquet
from codec.prep.records import PrepItem, PrepReport


def _run_shards(codec: Codec, k: int, items: list[PrepItem], todo: list[int], shard_size: int, batch_size: int,
                num_workers: int, inputs: Any, report: PrepReport, quiet: bool = False) -> None:
    if not todo:
        return
    dataset = _AudioItems(items, codec.sample_rate, inputs if _is_hf_dataset(inputs) else None)
    loader = torch.utils.data.DataLoader(
        dataset, batch_sampler=_LazyBatches(items, todo, shard_size, batch_size), num_workers=num_workers, collate_fn=list,
        worker_init_fn=_worker_init if num_workers else None)
    sizes = {s: min((s + 1) * shard_size, len(items)) - s * shard_size for s in todo}
    pending: dict[int, list[dict]] = {s: [] for s in todo}
    start, seconds = time.perf_counter(), 0.0
    with tqdm(total=sum(sizes.values()), unit="file", desc=f"prep rank {report.rank}", file=sys.stderr,
                   disable=quiet) as bar, \
            torch.inference_mode():
        for batch in loader:
            shard = batch[0]["index"] // shard_size
            pending[shard] += _encode(codec, k, batch, items)
            if len(pending[shard]) == sizes[shard]:
                _finish_shard(report, shard, sorted(pending.pop(shard), key=lambda r: r["index"]), items, codec)
            seconds += sum(entry["seconds"] for entry in batch if entry["error"] is None)
            rate = seconds / max(time.perf_counter() - start, 1e-9)  # audio hours per wall-clock hour
            bar.set_postfix_str(f"{seconds / 3600:.3f} h audio, {rate:.0f} h/h", refresh=False)
            bar.update(len(batch))


def _encode(codec: Codec, k: int, batch: list[dict], items: list[PrepItem]) -> list[dict]:
    """Tokenize the decodable entries of a batch (one by one if the batch fails); returns row/error dicts."""
    for entry in batch:
        if entry["error"] is None and entry.get("long"):
            _encode_long(codec, k, entry, items[entry["index"]])
    good = [entry for entry in batch if entry["error"] is None and not entry.get("long")]
    if good:
        try:
            tokens = codec.tokenize([torch.from_numpy(e["wav"])[None] for e in good], sample_rate=codec.sample_rate,
                                    num_codebooks=k)
        except (RuntimeError, ValueError) as err:
            if len(good) == 1:
                good[0]["error"] = _one_line(err, good[0]["path"])
            else:
                for entry in good:  # isolate the entry that fails
                    _encode(codec, k, [entry], items)
        else:
            for b, entry in enumerate(good):
                n = int(tokens.lengths[b])
                entry["codes"] = tokens.codes[b, :, :n].cpu().numpy()
                entry["num_samples"] = int(tokens.audio_lengths[b])
    for entry in batch:
        entry.pop("wav", None)
    return batch


def _encode_long(codec: Codec, k: int, entry: dict, item: PrepItem) -> None:
    """A long file: the windowed path of `codec tokenize` (memory bounded by the window, not the file)."""
    try:
        tokens = codec.tokenize_long(item.source, num_codebooks=k)
    except (OSError, RuntimeError, ValueError) as err:
        entry["error"] = _one_line(err, entry["path"])
        return
    entry["codes"] = tokens.codes[0, :, : int(tokens.lengths[0])].cpu().numpy()
    entry["num_samples"] = int(tokens.audio_lengths[0])


def _finish_shard(report: PrepReport, shard: int, entries: list[dict], items: list[PrepItem], codec: Codec) -> None:
    rows = [e for e in entries if e["error"] is None]
    errors = [{"id": items[e["index"]].id, "path": e["path"], "error": e["error"]} for e in entries if e["error"]]
    seconds = sum(e["seconds"] for e in rows)
    _write_parquet(report.out_dir / shard_name(shard), rows, items, _codes_dtype(codec.codebook_size), codec.model_id)
    marker = {"shard": shard, "rows": len(rows), "audio_seconds": seconds, "errors": errors}
    atomic_write_bytes(report.out_dir / done_name(shard), (json.dumps(marker, indent=1) + "\n").encode())
    report.shards_written.append(shard)
    report.rows += len(rows)
    report.audio_seconds += seconds
    report.errors += [(e["path"], e["error"]) for e in errors]
    for e in errors:
        tqdm.write(f"error: {e['path']}: {e['error']}", file=sys.stderr)
