"""Audio I/O with soundfile, validation with clear errors, mono downmix and resampling."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from codec.io.files import publish, temp_path_for

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".opus", ".mp3", ".aiff", ".aif", ".au")
MAX_CHANNELS = 2
MIN_SAMPLE_RATE = 1000

AudioInput = str | os.PathLike | np.ndarray | torch.Tensor


class AudioError(ValueError):
    """Audio that cannot be used, with the file (or item) and the problem in the message."""


def load_audio(path: str | os.PathLike) -> tuple[torch.Tensor, int]:
    """Read a file as float32 [C, T] and its sample rate; raises AudioError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such audio file")
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as err:  # soundfile raises LibsndfileError, RuntimeError, TypeError...
        raise AudioError(f"{path}: unreadable or not audio ({_first_line(err)})") from None
    wav = torch.from_numpy(np.ascontiguousarray(data.T))
    validate_audio(wav, rate, str(path))
    return wav, rate


def validate_audio(wav: torch.Tensor, sample_rate: int, name: str) -> None:
    """Raise AudioError for empty audio, NaN/Inf, too many channels or an implausible rate."""
    if wav.dim() != 2:
        raise AudioError(f"{name}: expected [channels, samples], got shape {tuple(wav.shape)}")
    if wav.shape[-1] == 0:
        raise AudioError(f"{name}: zero-length audio")
    if not 1 <= wav.shape[0] <= MAX_CHANNELS:
        raise AudioError(f"{name}: {wav.shape[0]} channels; supported layouts are mono and stereo")
    if int(sample_rate) < MIN_SAMPLE_RATE:
        raise AudioError(f"{name}: sample rate {sample_rate} Hz is below {MIN_SAMPLE_RATE} Hz")
    if not torch.isfinite(wav).all():
        raise AudioError(f"{name}: contains NaN or Inf samples")


def save_audio(path: str | os.PathLike, wav: torch.Tensor, sample_rate: int, exclusive: bool = False) -> None:
    """Write [C, T] or [T] audio atomically; the format follows the extension; `exclusive` never replaces a file."""
    path = Path(path)
    data = wav.detach().to("cpu", torch.float32)
    data = data[None] if data.dim() == 1 else data
    fmt = soundfile_format(path)
    tmp = temp_path_for(path)
    try:
        sf.write(str(tmp), data.clamp(-1, 1).numpy().T, int(sample_rate), format=fmt)
        publish(tmp, path, exclusive)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def soundfile_format(path: Path) -> str:
    """soundfile's format name for an output path's extension (ValueError for unsupported ones)."""
    ext = path.suffix.lower().lstrip(".")
    formats = {"wav": "WAV", "flac": "FLAC", "ogg": "OGG", "opus": "OGG", "mp3": "MP3", "aiff": "AIFF", "aif": "AIFF"}
    if ext not in formats:
        raise ValueError(f"{path}: unsupported output extension; use one of {sorted(formats)}")
    return formats[ext]


def to_mono(wav: torch.Tensor) -> torch.Tensor:
    """Average channels: [C, T] -> [1, T]."""
    return wav.mean(dim=0, keepdim=True)


def resample(wav: torch.Tensor, orig_rate: int, new_rate: int) -> torch.Tensor:
    """Band-limited resampling along the last axis (torchaudio)."""
    if orig_rate == new_rate:
        return wav
    import torchaudio.functional as AF

    return AF.resample(wav, int(orig_rate), int(new_rate))


def mono_resampled(wav: torch.Tensor, rate: int, target_rate: int) -> torch.Tensor:
    """[C, T] at `rate` -> mono [1, T] at `target_rate`: the one way audio is brought to a model's rate."""
    return resample(to_mono(wav), rate, target_rate)


def resampled_length(length: int, orig_rate: int, new_rate: int) -> int:
    """Samples after resampling `length` samples (torchaudio's rounding: ceil)."""
    return -(-int(length) * int(new_rate) // int(orig_rate))


def prepare_batch(
    audio: AudioInput | Sequence[AudioInput],
    sample_rate: int | None,
    target_rate: int,
    lengths: torch.Tensor | Sequence[int] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Any accepted input -> (mono float32 [B, 1, T] at `target_rate`, zero past `lengths`; lengths [B]).

    Accepts a path or list of paths, a [T] / [C, T] / [B, C, T] tensor or array (with `sample_rate`),
    or a list of [T] / [C, T] tensors or arrays of different lengths.
    """
    items = _as_items(audio, sample_rate, lengths)
    waves, out_lengths = [], []
    for wav, rate, name in items:
        validate_audio(wav, rate, name)
        wav = mono_resampled(wav.float(), rate, target_rate)
        waves.append(wav)
        out_lengths.append(wav.shape[-1])
    total = max(out_lengths)
    batch = torch.zeros(len(waves), 1, total)
    for i, wav in enumerate(waves):
        batch[i, :, : wav.shape[-1]] = wav
    return batch, torch.tensor(out_lengths, dtype=torch.int64)


def _as_items(audio, sample_rate, lengths) -> list[tuple[torch.Tensor, int, str]]:
    if isinstance(audio, (str, os.PathLike)):
        audio = [audio]
    if isinstance(audio, (list, tuple)):
        if lengths is not None:
            raise ValueError("lengths is only for a padded batch tensor; list items carry their own lengths")
        if not audio:
            raise ValueError("no audio given (empty list)")
        items = []
        for i, item in enumerate(audio):
            if isinstance(item, (str, os.PathLike)):
                wav, rate = load_audio(item)
                items.append((wav, rate, str(item)))
            else:
                wav = _as_tensor(item, f"item {i}")
                wav = wav[None] if wav.dim() == 1 else wav
                items.append((wav, _need_rate(sample_rate), f"item {i}"))
        return items
    wav = _as_tensor(audio, "audio")
    if wav.dim() == 1:
        wav = wav[None, None]
    elif wav.dim() == 2:
        wav = wav[None]
    if wav.dim() != 3:
        raise ValueError(f"audio must be [T], [C, T] or [B, C, T], got shape {tuple(wav.shape)}")
    rate = _need_rate(sample_rate)
    if lengths is None:
        lens = [wav.shape[-1]] * wav.shape[0]
    else:
        lens = [int(n) for n in torch.as_tensor(lengths).reshape(-1)]
        if len(lens) != wav.shape[0] or any(n < 0 or n > wav.shape[-1] for n in lens):
            raise ValueError(f"lengths must be {wav.shape[0]} values in [0, {wav.shape[-1]}], got {lens}")
    return [(wav[b, :, : lens[b]], rate, f"item {b}") for b in range(wav.shape[0])]


def _as_tensor(item, name: str) -> torch.Tensor:
    if isinstance(item, np.ndarray):
        item = torch.from_numpy(np.ascontiguousarray(item))
    if not isinstance(item, torch.Tensor):
        raise ValueError(f"{name}: expected a path, tensor or array, got {type(item).__name__}")
    if not (item.is_floating_point() or item.dtype in (torch.int16, torch.int32)):
        raise ValueError(f"{name}: expected float audio, got dtype {item.dtype}")
    if item.dtype == torch.int16:
        item = item.float() / 32768.0
    elif item.dtype == torch.int32:
        item = item.float() / 2147483648.0
    return item.detach().to("cpu", torch.float32)


def _need_rate(sample_rate: int | None) -> int:
    if sample_rate is None:
        raise ValueError("sample_rate is required for tensor or array input")
    return int(sample_rate)


def _first_line(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__
