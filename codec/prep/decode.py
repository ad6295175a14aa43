"""Decoding in DataLoader workers: the audio dataset, duration-sorted per-shard batches, worker setup."""

from __future__ import annotations

import sys
from typing import Any, Iterator

import soundfile as sf
import torch

from codec.io.audio import load_audio, resample, to_mono, validate_audio
from codec.prep.hf import _hf_decode, _hf_path
from codec.prep.records import PrepItem
from codec.runtime.longform import LONGFORM_THRESHOLD_SECONDS


class _AudioItems(torch.utils.data.Dataset):
    """Decodes item i to mono float32 at the model rate (numpy), or returns the reason it cannot.

    Files longer than LONGFORM_THRESHOLD_SECONDS are not decoded here: they come back with
    `long=True` and the main process tokenizes them window by window (as `codec tokenize` does),
    so memory stays bounded by the window, not the file.
    """

    def __init__(self, items: list[PrepItem], sample_rate: int, hf_dataset: Any = None) -> None:
        self.items, self.sample_rate, self.hf_dataset = items, sample_rate, hf_dataset

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict:
        item = self.items[index]
        out = {"index": index, "wav": None, "error": item.error, "rate": 0, "seconds": 0.0,
               "path": item.path or f"item {item.id}", "long": False}
        if item.error:
            return out
        try:
            info = None if isinstance(item.source, int) else _long_file_info(item.source)
            if info is not None:
                out["rate"], out["seconds"], out["long"] = info.samplerate, info.frames / info.samplerate, True
                return out
            if isinstance(item.source, int):
                audio = self.hf_dataset[item.source]["audio"]
                out["path"] = _hf_path(audio) or out["path"]
                wav, rate = _hf_decode(audio)
                validate_audio(wav, rate, out["path"])
            else:
                wav, rate = load_audio(item.source)
            out["rate"], out["seconds"] = rate, wav.shape[-1] / rate
            out["wav"] = resample(to_mono(wav), rate, self.sample_rate)[0].numpy()
        except Exception as err:  # any decoding problem is recorded, never fatal
            out["error"] = _one_line(err, out["path"])
        return out


def _long_file_info(path: str):
    """soundfile's header info when the file is past the long-form threshold, else None."""
    try:
        info = sf.info(path)
    except Exception:  # unreadable header: the normal decode reports it
        return None
    return info if info.frames > LONGFORM_THRESHOLD_SECONDS * info.samplerate else None


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


class _LazyBatches:
    """A batch sampler that reads file headers shard by shard as the loader asks for batches."""

    def __init__(self, items: list[PrepItem], shards: list[int], shard_size: int, batch_size: int) -> None:
        self.args = (items, shards, shard_size, batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        return _shard_batches(*self.args)


def _one_line(err: BaseException, path: str) -> str:
    lines = str(err).strip().splitlines()
    return (lines[0] if lines else type(err).__name__).removeprefix(f"{path}: ")
