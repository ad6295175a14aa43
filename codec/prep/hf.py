"""Hugging Face `datasets` support: splits as inputs, decoding their audio values, the `Dataset.map` function."""

from __future__ import annotations

import os
from typing import Any, Callable

import numpy as np
import torch

from codec.io.audio import MAX_CHANNELS, resample, to_mono, validate_audio
from codec.models.codec import Codec
from codec.prep.model import _as_model, _codes_dtype, _num_codebooks
from codec.prep.records import PrepItem


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
