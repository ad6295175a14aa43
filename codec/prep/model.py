"""The codec a prep run uses: loading it (with its checkpoint hash), checking K, picking the codes dtype."""

from __future__ import annotations

import os

import numpy as np
import torch

from codec.models.codec import WEIGHTS_FILE, Codec


def _as_model(model: Codec | str | os.PathLike, device: str | torch.device | None) -> tuple[Codec, str | None]:
    if isinstance(model, Codec):
        return (model.to(device) if device is not None else model).eval(), None
    from codec.hub.sources import resolve
    from codec.io.weights import sha256_file

    directory = resolve(model)
    return Codec.from_pretrained(directory, device=device or "cpu"), sha256_file(directory / WEIGHTS_FILE)


def _num_codebooks(codec: Codec, num_codebooks: int | None) -> int:
    k = codec.num_codebooks if num_codebooks is None else int(num_codebooks)
    if not 1 <= k <= codec.num_codebooks:
        raise ValueError(f"num_codebooks must be in [1, {codec.num_codebooks}], got {num_codebooks}")
    return k


def _codes_dtype(codebook_size: int) -> type:
    return np.int16 if codebook_size <= 2**15 else np.int32
