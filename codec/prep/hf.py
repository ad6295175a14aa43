"""Hugging Face `datasets`: decoding their audio values, the `Dataset.map` function (splits as inputs: plan.py)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from codec.io.audio import MAX_CHANNELS, mono_resampled, validate_audio
from codec.models.codec import Codec
from codec.prep.plan import _as_model, _codes_dtype, _num_codebooks


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
            waves.append(mono_resampled(wav, rate, codec.sample_rate))
        tokens = codec.tokenize(waves, sample_rate=codec.sample_rate, num_codebooks=k)
        lengths = tokens.lengths.tolist()
        codes = [tokens.codes[b, :, :n].cpu().numpy().astype(dtype) for b, n in enumerate(lengths)]
        return {"codes": codes, "n_frames": lengths}

    return tokenize_batch


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
