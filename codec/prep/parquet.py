"""Writing one shard as a Parquet file: schema, nested codes column, temp file then rename."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from codec.io.files import temp_path_for
from codec.prep.layout import PREP_FORMAT
from codec.prep.records import PrepItem


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
