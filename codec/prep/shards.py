"""Writing shards: decoding in DataLoader workers, duration-sorted batches, tokenizing, Parquet and done markers."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import torch
from tqdm import tqdm

from codec.data.manifest import Utterance
from codec.errors import one_line
from codec.io.audio import load_audio, mono_resampled, validate_audio
from codec.io.files import atomic_write_bytes, publish, temp_path_for
from codec.jobs.failures import record_failure
from codec.models.codec import Codec
from codec.prep.hf import _hf_decode, _hf_path
from codec.prep.plan import PREP_FORMAT, PrepReport, _codes_dtype, _is_hf_dataset, done_name, shard_name
from codec.runtime.longform import LONGFORM_THRESHOLD_SECONDS


def _run_shards(
    codec: Codec,
    k: int,
    items: list[Utterance],
    todo: list[int],
    shard_size: int,
    batch_size: int,
    num_workers: int,
    inputs: Any,
    report: PrepReport,
    quiet: bool = False,
) -> None:
    if not todo:
        return
    dataset = _AudioItems(items, codec.sample_rate, inputs if _is_hf_dataset(inputs) else None)
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_sampler=_LazyBatches(items, todo, shard_size, batch_size),
        num_workers=num_workers,
        collate_fn=list,
        worker_init_fn=_worker_init if num_workers else None,
    )
    sizes = {s: min((s + 1) * shard_size, len(items)) - s * shard_size for s in todo}
    pending: dict[int, list[dict]] = {s: [] for s in todo}
    start, seconds = time.perf_counter(), 0.0
    with (
        tqdm(
            total=sum(sizes.values()), unit="file", desc=f"prep rank {report.rank}", file=sys.stderr, disable=quiet
        ) as bar,
        torch.inference_mode(),
    ):
        for batch in loader:
            shard = batch[0]["index"] // shard_size
            pending[shard] += _encode(codec, k, batch, items)
            if len(pending[shard]) == sizes[shard]:
                _finish_shard(report, shard, sorted(pending.pop(shard), key=lambda r: r["index"]), items, codec)
            seconds += sum(entry["seconds"] for entry in batch if entry["error"] is None)
            rate = seconds / max(time.perf_counter() - start, 1e-9)  # audio hours per wall-clock hour
            bar.set_postfix_str(f"{seconds / 3600:.3f} h audio, {rate:.0f} h/h", refresh=False)
            bar.update(len(batch))


def _encode(codec: Codec, k: int, batch: list[dict], items: list[Utterance]) -> list[dict]:
    """Tokenize the decodable entries of a batch (one by one if the batch fails); returns row/error dicts."""
    for entry in batch:
        if entry["error"] is None and entry.get("long"):
            _encode_long(codec, k, entry, items[entry["index"]])
    good = [entry for entry in batch if entry["error"] is None and not entry.get("long")]
    if good:
        try:
            tokens = codec.tokenize(
                [torch.from_numpy(e["wav"])[None] for e in good], sample_rate=codec.sample_rate, num_codebooks=k
            )
        except (RuntimeError, ValueError) as err:
            if len(good) == 1:
                good[0]["error"] = one_line(err, good[0]["path"])
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


def _encode_long(codec: Codec, k: int, entry: dict, item: Utterance) -> None:
    """A long file: the windowed path of `codec tokenize` (memory bounded by the window, not the file)."""
    try:
        tokens = codec.tokenize_long(item.path, num_codebooks=k)
    except (OSError, RuntimeError, ValueError) as err:
        entry["error"] = one_line(err, entry["path"])
        return
    entry["codes"] = tokens.codes[0, :, : int(tokens.lengths[0])].cpu().numpy()
    entry["num_samples"] = int(tokens.audio_lengths[0])


def _finish_shard(report: PrepReport, shard: int, entries: list[dict], items: list[Utterance], codec: Codec) -> None:
    rows = [e for e in entries if e["error"] is None]
    errors = [{"id": items[e["index"]].id, "path": e["path"], "error": e["error"]} for e in entries if e["error"]]
    seconds = sum(e["seconds"] for e in rows)
    _write_parquet(report.out_dir / shard_name(shard), rows, items, _codes_dtype(codec.codebook_size), codec.model_id)
    marker = {"shard": shard, "rows": len(rows), "audio_seconds": seconds, "errors": errors}
    atomic_write_bytes(report.out_dir / done_name(shard), (json.dumps(marker, indent=1) + "\n").encode())
    report.shards_written.append(shard)
    report.rows += len(rows)
    report.audio_seconds += seconds
    for e in errors:
        record_failure(report.errors, e["path"], e["error"])


class _AudioItems(torch.utils.data.Dataset):
    """Decodes item i to mono float32 at the model rate (numpy), or returns the reason it cannot.

    Files longer than LONGFORM_THRESHOLD_SECONDS are not decoded here: they come back with
    `long=True` and the main process tokenizes them window by window (as `codec tokenize` does),
    so memory stays bounded by the window, not the file.
    """

    def __init__(self, items: list[Utterance], sample_rate: int, hf_dataset: Any = None) -> None:
        self.items, self.sample_rate, self.hf_dataset = items, sample_rate, hf_dataset

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict:
        item = self.items[index]
        out = {
            "index": index,
            "wav": None,
            "error": None,
            "rate": 0,
            "seconds": 0.0,
            "path": item.source,
            "long": False,
        }
        try:
            info = None if item.row is not None else _long_file_info(item.path)
            if info is not None:
                out["rate"], out["seconds"], out["long"] = info.samplerate, info.frames / info.samplerate, True
                return out
            if item.row is not None:
                audio = self.hf_dataset[item.row]["audio"]
                out["path"] = _hf_path(audio) or out["path"]
                wav, rate = _hf_decode(audio)
                validate_audio(wav, rate, out["path"])
            else:
                wav, rate = load_audio(item.path)
            out["rate"], out["seconds"] = rate, wav.shape[-1] / rate
            out["wav"] = mono_resampled(wav, rate, self.sample_rate)[0].numpy()
        except Exception as err:  # any decoding problem is recorded, never fatal
            out["error"] = one_line(err, out["path"])
        return out


def _long_file_info(path: Path):
    """soundfile's header info when the file is past the long-form threshold, else None."""
    try:
        info = sf.info(path)
    except Exception:  # unreadable header: the normal decode reports it
        return None
    return info if info.frames > LONGFORM_THRESHOLD_SECONDS * info.samplerate else None


def _shard_batches(items: list[Utterance], shards: list[int], shard_size: int, batch_size: int) -> Iterator[list[int]]:
    """Per shard, indices sorted by duration (file headers) and cut into batches; never mixes shards."""
    for shard in shards:
        indices = list(range(shard * shard_size, min((shard + 1) * shard_size, len(items))))
        indices.sort(key=lambda i: (_header_seconds(items[i]), i))
        for start in range(0, len(indices), batch_size):
            yield indices[start : start + batch_size]


def _header_seconds(item: Utterance) -> float:
    if item.row is not None:
        return 0.0
    try:
        return float(sf.info(item.path).duration)
    except Exception:  # unreadable: it will fail (and be recorded) when decoded
        return 0.0


def _worker_init(_: int) -> None:
    torch.set_num_threads(1)
    if sys.platform.startswith("linux"):  # die with the main process, even when it is SIGKILLed
        try:
            import ctypes
            import signal

            ctypes.CDLL(None).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass


class _LazyBatches:
    """A batch sampler that reads file headers shard by shard as the loader asks for batches."""

    def __init__(self, items: list[Utterance], shards: list[int], shard_size: int, batch_size: int) -> None:
        self.args = (items, shards, shard_size, batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        return _shard_batches(*self.args)


def _write_parquet(path: Path, rows: list[dict], items: list[Utterance], dtype: type, model_id: str) -> None:
    """One shard as a Parquet file, written to a temp name and renamed."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    value_type = pa.from_numpy_dtype(np.dtype(dtype))
    schema = pa.schema(
        [
            ("id", pa.string()),
            ("path", pa.string()),
            ("duration", pa.float64()),
            ("sample_rate", pa.int32()),
            ("num_samples", pa.int64()),
            ("n_frames", pa.int32()),
            ("codes", pa.list_(pa.list_(value_type))),
            ("text", pa.string()),
            ("speaker", pa.string()),
        ],
        metadata={"codec.model_id": model_id, "codec.format": PREP_FORMAT},
    )
    codes = [r["codes"].astype(dtype) for r in rows]
    columns = [
        [items[r["index"]].id for r in rows],
        [r["path"] for r in rows],
        [r["seconds"] for r in rows],
        [r["rate"] for r in rows],
        [r["num_samples"] for r in rows],
        [c.shape[1] for c in codes],
        _nested_codes(codes, np.dtype(dtype)),
        [items[r["index"]].text for r in rows],
        [items[r["index"]].speaker for r in rows],
    ]
    arrays = [col if isinstance(col, pa.Array) else pa.array(col, type=f.type) for col, f in zip(columns, schema)]
    table = pa.Table.from_arrays(arrays, schema=schema)
    tmp = temp_path_for(path)
    try:
        pq.write_table(table, tmp, compression="zstd")
        publish(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _nested_codes(codes: list[np.ndarray], dtype: np.dtype) -> Any:
    """[K, F] arrays -> list<list<int>> without Python-level loops over values."""
    import pyarrow as pa

    inner = np.zeros(sum(c.shape[0] for c in codes) + 1, dtype=np.int32)
    np.cumsum([c.shape[1] for c in codes for _ in range(c.shape[0])], out=inner[1:])
    outer = np.zeros(len(codes) + 1, dtype=np.int32)
    np.cumsum([c.shape[0] for c in codes], out=outer[1:])
    flat = np.concatenate([c.reshape(-1) for c in codes]) if codes else np.zeros(0, dtype=dtype)
    return pa.ListArray.from_arrays(pa.array(outer), pa.ListArray.from_arrays(pa.array(inner), pa.array(flat)))
