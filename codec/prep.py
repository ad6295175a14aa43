"""Dataset tokenization at scale: sorted items cut into fixed Parquet shards; resumable, rank-sharded, merged."""

from __future__ import annotations

import glob
import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import soundfile as sf
import torch
from tqdm import tqdm

from codec.audio import MAX_CHANNELS, load_audio, resample, to_mono, validate_audio
from codec.fileio import atomic_write_bytes, temp_path_for
from codec.inputs import collect_inputs
from codec.models.codec import WEIGHTS_FILE, Codec

PREP_FORMAT = "codec.prep"
PREP_FORMAT_VERSION = 1
PLAN_FILE = "plan.json"
MANIFEST_FILE = "manifest.json"
ERRORS_FILE = "errors.jsonl"
COLUMNS = ("id", "path", "duration", "sample_rate", "num_samples", "n_frames", "codes", "text", "speaker")


@dataclass(frozen=True)
class PrepItem:
    """One utterance to tokenize: its id, file path (or datasets row index) and optional text/speaker."""

    id: str
    path: str
    source: str | int
    text: str | None = None
    speaker: str | None = None
    error: str | None = None


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


def shard_name(index: int) -> str:
    """`shard-00042.parquet`."""
    return f"shard-{index:05d}.parquet"


def done_name(index: int) -> str:
    """`shard-00042.done.json`: written after the shard, records its rows, seconds and errors."""
    return f"shard-{index:05d}.done.json"


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


def plan_items(inputs: Any) -> tuple[list[PrepItem], list[tuple[str, str]]]:
    """Sorted items (by id, then path; repeated ids marked as errors) and the input specs that failed."""
    if _is_hf_dataset(inputs):
        items, spec_errors = _hf_items(inputs), []
    else:
        specs = [str(inputs)] if isinstance(inputs, (str, os.PathLike)) else [str(s) for s in inputs]
        collected = collect_inputs(specs)
        items = [PrepItem(i.relative.with_suffix("").as_posix(), str(i.path), str(i.path), i.text, i.speaker)
                 for i in collected.items]
        spec_errors = list(collected.errors)
    items.sort(key=lambda item: (item.id, item.path))
    seen: dict[str, str] = {}
    for n, item in enumerate(items):
        if item.id in seen:
            items[n] = replace(item, error=f"duplicate id {item.id!r} (also {seen[item.id]})")
        seen.setdefault(item.id, item.path)
    return items, spec_errors


def tokenize_corpus(inputs: Any, out_dir: str | os.PathLike, model: Codec | str | os.PathLike, *,
                    num_codebooks: int | None = None, shard_size: int = 1000, batch_size: int = 16,
                    num_workers: int = 2, rank: int | None = None, world_size: int | None = None,
                    strict: bool = False, device: str | torch.device | None = None) -> PrepReport:
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
    if report.shards_skipped:
        print(f"rank {rank}: {len(report.shards_skipped)} finished shard(s) kept, {len(todo)} to do", file=sys.stderr)
    _run_shards(codec, k, items, todo, shard_size, batch_size, num_workers, inputs, report)
    if all(_shard_done(out_dir, i) for i in range(num_shards)):
        report.manifest = merge_manifest(out_dir)
    if strict and report.errors:
        raise PrepFailed(f"{len(report.errors)} item(s) failed (see {out_dir / ERRORS_FILE} or the shard markers)")
    return report


class PrepFailed(RuntimeError):
    """Raised by tokenize_corpus(strict=True) when any item failed (outputs are still written)."""


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


def hf_map_function(model: Codec | str | os.PathLike, num_codebooks: int | None = None) -> Callable[[dict], dict]:
    """A `datasets.Dataset.map(fn, batched=True)` function: batch["audio"] -> {"codes", "n_frames"}."""
    codec, _ = _as_model(model, None)
    k = _num_codebooks(codec, num_codebooks)
    dtype = _codes_dtype(codec.codebook_size)

    def tokenize_batch(batch: dict) -> dict:
        waves = []
        for n, audio in enumerate(batch["audio"]):
            wav, rate = _hf_decode(audio)
            validate_audio(wav, rate, f"item {n}")
            waves.append(resample(to_mono(wav), rate, codec.sample_rate))
        tokens = codec.tokenize(waves, sample_rate=codec.sample_rate, num_codebooks=k)
        lengths = tokens.lengths.tolist()
        codes = [tokens.codes[b, :, :n].cpu().numpy().astype(dtype) for b, n in enumerate(lengths)]
        return {"codes": codes, "n_frames": lengths}

    return tokenize_batch


# ---- model and plan -------------------------------------------------------------------------------
def _as_model(model: Codec | str | os.PathLike, device: str | torch.device | None) -> tuple[Codec, str | None]:
    if isinstance(model, Codec):
        return (model.to(device) if device is not None else model).eval(), None
    from codec.hub import resolve
    from codec.weights import sha256_file

    directory = resolve(model)
    return Codec.from_pretrained(directory, device=device or "cpu"), sha256_file(directory / WEIGHTS_FILE)


def _num_codebooks(codec: Codec, num_codebooks: int | None) -> int:
    k = codec.num_codebooks if num_codebooks is None else int(num_codebooks)
    if not 1 <= k <= codec.num_codebooks:
        raise ValueError(f"num_codebooks must be in [1, {codec.num_codebooks}], got {num_codebooks}")
    return k


def _codes_dtype(codebook_size: int) -> type:
    return np.int16 if codebook_size <= 2**15 else np.int32


def _plan_record(codec: Codec, sha: str | None, k: int, items: list[PrepItem], shard_size: int,
                 num_shards: int, spec_errors: list[tuple[str, str]]) -> dict:
    digest = hashlib.sha256("".join(f"{i.id}\t{i.path}\n" for i in items).encode()).hexdigest()
    model = {
        "model_id": codec.model_id, "checkpoint_sha256": sha, "num_codebooks": k,
        "model_num_codebooks": codec.num_codebooks,
        "num_semantic_codebooks": min(codec.cfg.quantizer.num_semantic_codebooks, k),
        "codebook_size": codec.codebook_size, "frame_rate": codec.frame_rate, "sample_rate": codec.sample_rate,
        "codes_dtype": np.dtype(_codes_dtype(codec.codebook_size)).name,
    }
    return {"format": PREP_FORMAT, "format_version": PREP_FORMAT_VERSION, "model": model, "num_items": len(items),
            "items_sha256": digest, "shard_size": shard_size, "num_shards": num_shards,
            "input_errors": [list(e) for e in spec_errors]}


def _write_or_check_plan(out_dir: Path, plan: dict) -> None:
    path = out_dir / PLAN_FILE
    if path.is_file():
        old = _read_json(path)
        changed = [key for key in ("model", "items_sha256", "shard_size", "num_shards") if old.get(key) != plan[key]]
        if changed:
            raise ValueError(f"{out_dir} holds a prep run with a different {', '.join(changed)}; "
                             "use a new output directory (or delete it) to start over")
        return
    atomic_write_bytes(path, (json.dumps(plan, indent=2) + "\n").encode())


def _layout_hints(model: dict) -> dict:
    k, s, size = model["num_codebooks"], model["num_semantic_codebooks"], model["codebook_size"]
    return {
        "codes_shape": "[num_codebooks][n_frames] per row",
        "semantic_codebooks": list(range(s)), "acoustic_codebooks": list(range(s, k)),
        "vocab_size": k * size, "flat_token": "codebook k, code c -> k * codebook_size + c",
    }


def _read_json(path: Path) -> dict:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not found (is this a `codec prep` output directory?)")
    return json.loads(path.read_text())


def _shard_done(out_dir: Path, index: int) -> bool:
    return (out_dir / done_name(index)).is_file() and (out_dir / shard_name(index)).is_file()


def _remove_leftovers(out_dir: Path, index: int) -> None:
    """Delete a half-finished shard: temp files, and a parquet whose done marker never came."""
    for name in (shard_name(index), done_name(index)):
        for tmp in glob.glob(str(out_dir / f".{glob.escape(name)}.*.tmp*")):
            Path(tmp).unlink(missing_ok=True)
    (out_dir / shard_name(index)).unlink(missing_ok=True)
    (out_dir / done_name(index)).unlink(missing_ok=True)


# ---- decoding in DataLoader workers ---------------------------------------------------------------
class _AudioItems(torch.utils.data.Dataset):
    """Decodes item i to mono float32 at the model rate (numpy), or returns the reason it cannot."""

    def __init__(self, items: list[PrepItem], sample_rate: int, hf_dataset: Any = None) -> None:
        self.items, self.sample_rate, self.hf_dataset = items, sample_rate, hf_dataset

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict:
        item = self.items[index]
        out = {"index": index, "wav": None, "error": item.error, "rate": 0, "seconds": 0.0, "path": item.path}
        if item.error:
            return out
        try:
            if isinstance(item.source, int):
                audio = self.hf_dataset[item.source]["audio"]
                out["path"] = _hf_path(audio) or item.path
                wav, rate = _hf_decode(audio)
                validate_audio(wav, rate, out["path"])
            else:
                wav, rate = load_audio(item.source)
            out["rate"], out["seconds"] = rate, wav.shape[-1] / rate
            out["wav"] = resample(to_mono(wav), rate, self.sample_rate)[0].numpy()
        except Exception as err:  # any decoding problem is recorded, never fatal
            out["error"] = _one_line(err, item.path)
        return out


def _shard_batches(items: list[PrepItem], shards: list[int], shard_size: int, batch_size: int) -> Iterator[list[int]]:
    """Per shard, indices sorted by duration (file headers) and cut into batches; never mixes shards."""
    for shard in shards:
        indices = list(range(shard * shard_size, min((shard + 1) * shard_size, len(items))))
        indices.sort(key=lambda i: (_header_seconds(items[i]), i))
        for start in range(0, len(indices), batch_size):
            yield indices[start : start + batch_size]


def _header_seconds(item: PrepItem) -> float:
    if item.error or isinstance(item.source, int):
        return 0.0
    try:
        return float(sf.info(item.source).duration)
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


# ---- the shard loop -------------------------------------------------------------------------------
def _run_shards(codec: Codec, k: int, items: list[PrepItem], todo: list[int], shard_size: int, batch_size: int,
                num_workers: int, inputs: Any, report: PrepReport) -> None:
    if not todo:
        return
    dataset = _AudioItems(items, codec.sample_rate, inputs if _is_hf_dataset(inputs) else None)
    loader = torch.utils.data.DataLoader(
        dataset, batch_sampler=_LazyBatches(items, todo, shard_size, batch_size), num_workers=num_workers, collate_fn=list,
        worker_init_fn=_worker_init if num_workers else None)
    sizes = {s: min((s + 1) * shard_size, len(items)) - s * shard_size for s in todo}
    pending: dict[int, list[dict]] = {s: [] for s in todo}
    start, seconds = time.perf_counter(), 0.0
    with tqdm(total=sum(sizes.values()), unit="file", desc=f"prep rank {report.rank}", file=sys.stderr) as bar, \
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


class _LazyBatches:
    """A batch sampler that reads file headers shard by shard as the loader asks for batches."""

    def __init__(self, items: list[PrepItem], shards: list[int], shard_size: int, batch_size: int) -> None:
        self.args = (items, shards, shard_size, batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        return _shard_batches(*self.args)


def _encode(codec: Codec, k: int, batch: list[dict], items: list[PrepItem]) -> list[dict]:
    """Tokenize the decodable entries of a batch (one by one if the batch fails); returns row/error dicts."""
    good = [entry for entry in batch if entry["error"] is None]
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


def _write_parquet(path: Path, rows: list[dict], items: list[PrepItem], dtype: type, model_id: str) -> None:
    """One shard as a Parquet file, written to a temp name and renamed."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    value_type = pa.from_numpy_dtype(np.dtype(dtype))
    schema = pa.schema([
        ("id", pa.string()), ("path", pa.string()), ("duration", pa.float64()), ("sample_rate", pa.int32()),
        ("num_samples", pa.int64()), ("n_frames", pa.int32()), ("codes", pa.list_(pa.list_(value_type))),
        ("text", pa.string()), ("speaker", pa.string()),
    ], metadata={"codec.model_id": model_id, "codec.format": PREP_FORMAT})
    codes = [r["codes"].astype(dtype) for r in rows]
    columns = [
        [items[r["index"]].id for r in rows], [r["path"] for r in rows], [r["seconds"] for r in rows],
        [r["rate"] for r in rows], [r["num_samples"] for r in rows], [c.shape[1] for c in codes],
        _nested_codes(codes, np.dtype(dtype)),
        [items[r["index"]].text for r in rows], [items[r["index"]].speaker for r in rows],
    ]
    arrays = [col if isinstance(col, pa.Array) else pa.array(col, type=f.type) for col, f in zip(columns, schema)]
    table = pa.Table.from_arrays(arrays, schema=schema)
    tmp = temp_path_for(path)
    try:
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, path)
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


# ---- Hugging Face datasets (optional) -------------------------------------------------------------
def _is_hf_dataset(obj: Any) -> bool:
    return hasattr(obj, "column_names") and "audio" in getattr(obj, "column_names", ()) and hasattr(obj, "__getitem__")


def _hf_items(ds: Any) -> list[PrepItem]:
    columns = ds.column_names
    ids = [str(v) for v in ds["id"]] if "id" in columns else [f"{n:09d}" for n in range(len(ds))]
    texts = ds["text"] if "text" in columns else [None] * len(ds)
    speaker_col = next((c for c in ("speaker", "speaker_id") if c in columns), None)
    speakers = [None if s is None else str(s) for s in ds[speaker_col]] if speaker_col else [None] * len(ds)
    return [PrepItem(ids[n], "", n, texts[n], speakers[n]) for n in range(len(ds))]


def _hf_decode(audio: Any) -> tuple[torch.Tensor, int]:
    """A datasets audio value ({"array", "sampling_rate"} or a torchcodec decoder) -> ([C, T] float32, rate)."""
    if hasattr(audio, "get_all_samples"):  # datasets >= 4 decodes with torchcodec
        samples = audio.get_all_samples()
        return samples.data.float().cpu(), int(samples.sample_rate)
    wav = torch.as_tensor(np.asarray(audio["array"]), dtype=torch.float32)
    wav = wav[None] if wav.dim() == 1 else wav
    if wav.dim() == 2 and wav.shape[1] <= MAX_CHANNELS < wav.shape[0]:
        wav = wav.T  # [T, C] -> [C, T]
    return wav.contiguous(), int(audio["sampling_rate"])


def _hf_path(audio: Any) -> str:
    return str(audio.get("path") or "") if isinstance(audio, dict) else ""


def _one_line(err: BaseException, path: str) -> str:
    lines = str(err).strip().splitlines()
    return (lines[0] if lines else type(err).__name__).removeprefix(f"{path}: ")


if __name__ == "__main__":  # `python -m codec.prep ...` (and torchrun -m codec.prep ...) = `codec prep ...`
    from codec.commands.prep import main

    sys.exit(main())
