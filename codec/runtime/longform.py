"""Long-form tokenize/detokenize with memory bounded by a window, not by the file.

Audio is read from the file in blocks (soundfile seek + read) and resampled block by block with
enough context that every sample equals whole-file resampling. Causal models stream the file
through `model.streaming()` (codes identical to one-shot tokenization). Non-causal models encode
overlapping windows (`window_seconds` of centre frames plus `context_seconds` each side) and keep
only each window's centre frames; decoding does the same and crossfades neighbouring windows over
`crossfade_seconds` around each seam (raised-cosine fades that sum to one), writing the audio to
the output file as it goes (temp file, then rename).
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import soundfile as sf
import torch

from codec.errors import one_line
from codec.io.audio import AudioError, resample, resampled_length, soundfile_format
from codec.io.files import publish, temp_path_for
from codec.tokens import Tokens

if TYPE_CHECKING:
    from codec.models.codec import Codec

AudioSink = Callable[[torch.Tensor], None]
LONGFORM_THRESHOLD_SECONDS = 60.0
"""Suggested file duration above which callers switch from one-shot to long-form processing."""


class ResampledReader:
    """Random access to a file's mono audio at `target_rate` ([start, stop) samples), read in blocks."""

    def __init__(self, path: str | os.PathLike, target_rate: int) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"{self.path}: no such audio file")
        try:
            self.handle = sf.SoundFile(str(self.path))
        except Exception as err:  # soundfile raises LibsndfileError, RuntimeError, TypeError...
            raise AudioError(f"{self.path}: unreadable or not audio ({one_line(err)})") from None
        self.rate, self.target_rate = int(self.handle.samplerate), int(target_rate)
        if self.handle.frames == 0:
            raise AudioError(f"{self.path}: zero-length audio")
        if not 1 <= self.handle.channels <= 2:
            raise AudioError(f"{self.path}: {self.handle.channels} channels; supported layouts are mono and stereo")
        self.num_samples = resampled_length(self.handle.frames, self.rate, self.target_rate)
        g = math.gcd(self.rate, self.target_rate)
        self.orig, self.new = self.rate // g, self.target_rate // g
        width = math.ceil(6 * self.orig / (min(self.orig, self.new) * 0.99))  # torchaudio's sinc kernel half-width
        self.context_groups = math.ceil((width + self.orig) / self.orig) + 1

    def close(self) -> None:
        """Close the file."""
        self.handle.close()

    def __enter__(self) -> ResampledReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def read(self, start: int, stop: int) -> torch.Tensor:
        """Mono samples [stop - start] at the target rate, equal to resampling the whole file."""
        stop = min(stop, self.num_samples)
        if self.rate == self.target_rate:
            return self._read_input(start, stop)
        first = max(0, start // self.new - self.context_groups) * self.orig
        last = min(self.handle.frames, (-(-stop // self.new) + self.context_groups) * self.orig)
        out = resample(self._read_input(first, last)[None], self.rate, self.target_rate)[0]
        offset = first // self.orig * self.new
        return out[start - offset : stop - offset]

    def _read_input(self, start: int, stop: int) -> torch.Tensor:
        self.handle.seek(start)
        data = self.handle.read(stop - start, dtype="float32", always_2d=True)
        wav = torch.from_numpy(np.ascontiguousarray(data.T)).mean(dim=0)
        if not torch.isfinite(wav).all():
            raise AudioError(f"{self.path}: contains NaN or Inf samples (near sample {start})")
        return wav


def frame_windows(num_frames: int, window: int) -> Iterator[tuple[int, int]]:
    """Consecutive [start, stop) frame ranges covering `num_frames`, of equal size (at most `window`, over
    window/2 when split)."""
    count = max(1, -(-num_frames // window))
    bounds = [round(i * num_frames / count) for i in range(count + 1)]
    return itertools.pairwise(bounds)


def _frames(model: Codec, seconds: float, name: str, minimum: int = 0) -> int:
    frames = round(seconds * model.frame_rate)
    if frames < minimum:
        raise ValueError(f"{name}={seconds} s is {frames} frames; it must be at least {minimum} frames")
    return frames


class LongForm:
    """Long-form tokenize/detokenize of one file at a time with `model`, windowed as the module docstring says."""

    def __init__(
        self, model: Codec, window_seconds: float = 30.0, context_seconds: float = 3.0, crossfade_seconds: float = 0.5
    ) -> None:
        self.model = model
        self.window_seconds, self.context_seconds = window_seconds, context_seconds
        self.crossfade_seconds = crossfade_seconds

    @torch.inference_mode()
    def tokenize(self, path: str | os.PathLike, num_codebooks: int | None = None) -> Tokens:
        """Tokenize one (long) audio file window by window -> Tokens [1, k, F], as one-shot `tokenize`."""
        model = self.model
        k = model.check_num_codebooks(num_codebooks)
        window = _frames(model, self.window_seconds, "window_seconds", 1)
        context = _frames(model, self.context_seconds, "context_seconds")
        hop = model.frame_size
        with ResampledReader(path, model.sample_rate) as reader:
            total = reader.num_samples
            num_frames = -(-total // hop)
            codes = torch.zeros(1, k, num_frames, dtype=torch.long, device=model.device)
            if model.cfg.causal:
                with model.streaming(1) as session:
                    for start, stop in frame_windows(num_frames, window):
                        wav = reader.read(start * hop, stop * hop)
                        wav = torch.nn.functional.pad(wav, (0, (stop - start) * hop - wav.shape[-1]))
                        codes[..., start:stop] = session.encode_chunk(wav[None, None], k)
            else:
                for start, stop in frame_windows(num_frames, window):
                    first, last = max(0, start - context), min(num_frames, stop + context)
                    wav = reader.read(first * hop, last * hop)
                    part = model.tokenize(wav[None], model.sample_rate, num_codebooks=k).codes
                    codes[..., start:stop] = part[..., start - first : stop - first]
        device = codes.device
        return model.make_tokens(codes, torch.tensor([num_frames], device=device), torch.tensor([total], device=device))

    @torch.inference_mode()
    def detokenize(
        self, tokens: Tokens, sink: str | os.PathLike | AudioSink, subtype: str | None = None, exclusive: bool = False
    ) -> int:
        """Decode Tokens of one long item window by window to a file (atomic) or a callback; returns samples written.

        `exclusive`: refuse (FileExistsError) to replace an existing output file.
        """
        model = self.model
        if tokens.batch_size != 1:
            raise ValueError(f"long-form decoding takes one item at a time, got a batch of {tokens.batch_size}")
        model.check_tokens(tokens)
        tokens = tokens.to(model.device)
        window = _frames(model, self.window_seconds, "window_seconds", 1)
        context = _frames(model, self.context_seconds, "context_seconds")
        fade = round(self.crossfade_seconds * model.sample_rate)
        if fade > context * model.frame_size or fade > window * model.frame_size // 2:
            raise ValueError(
                f"crossfade_seconds={self.crossfade_seconds} must be at most context_seconds "
                f"({self.context_seconds}) and half of window_seconds ({self.window_seconds})"
            )
        if model.cfg.causal:
            blocks = _streamed_windows(model, tokens, window)
        else:
            blocks = _decoded_windows(model, tokens, window, context, fade)
        if callable(sink):
            return _drain(blocks, sink)
        return _write_file(Path(sink), blocks, model.sample_rate, subtype, exclusive)


def tokenize_file_longform(
    model: Codec,
    path: str | os.PathLike,
    window_seconds: float = 30.0,
    context_seconds: float = 3.0,
    num_codebooks: int | None = None,
) -> Tokens:
    """Tokenize one (long) audio file window by window -> Tokens [1, k, F] (LongForm.tokenize)."""
    return LongForm(model, window_seconds, context_seconds).tokenize(path, num_codebooks)


def detokenize_longform(
    model: Codec,
    tokens: Tokens,
    sink: str | os.PathLike | AudioSink,
    window_seconds: float = 30.0,
    context_seconds: float = 3.0,
    crossfade_seconds: float = 0.5,
    subtype: str | None = None,
    exclusive: bool = False,
) -> int:
    """Decode Tokens of one long item to a file or a callback; samples written (LongForm.detokenize)."""
    return LongForm(model, window_seconds, context_seconds, crossfade_seconds).detokenize(
        tokens, sink, subtype, exclusive
    )


def _crossfade(size: int) -> torch.Tensor:
    """Raised-cosine fade-in of `size` samples; the fade-out is 1 - it (the two sum to one)."""
    return 0.5 - 0.5 * torch.cos(torch.pi * (torch.arange(size) + 0.5) / size)


def _decoded_windows(model: Codec, tokens: Tokens, window: int, context: int, fade: int) -> Iterator[torch.Tensor]:
    """Non-causal decode: consecutive audio blocks [T_i] whose concatenation is the crossfaded whole."""
    hop, num_frames, total = model.frame_size, int(tokens.lengths[0]), int(tokens.audio_lengths[0])
    left, right = fade // 2, fade - fade // 2
    ramp = _crossfade(fade)
    pending: torch.Tensor | None = None
    for start, stop in frame_windows(num_frames, window):
        first, last = max(0, start - context), min(num_frames, stop + context)
        audio = model.detokenize(tokens.codes[:, :, first:last], lengths=torch.tensor([last - first]))[0, 0].cpu()
        origin = first * hop
        begin = start * hop if pending is None else start * hop + right
        end = total if stop == num_frames else stop * hop - left
        if pending is not None and fade:
            seam = audio[start * hop - left - origin : start * hop + right - origin]
            yield pending * (1 - ramp) + seam * ramp
        yield audio[begin - origin : min(end, total) - origin]
        pending = audio[stop * hop - left - origin : stop * hop + right - origin] if stop < num_frames else None


def _streamed_windows(model: Codec, tokens: Tokens, window: int) -> Iterator[torch.Tensor]:
    """Causal decode: the streaming output with the decoder lookahead removed, truncated to the audio length."""
    skip, remaining = model.decoder.lookahead, int(tokens.audio_lengths[0])
    with model.streaming(1) as session:
        windows = frame_windows(int(tokens.lengths[0]), window)
        chunks = (session.decode_chunk(tokens.codes[:, :, a:b]) for a, b in windows)
        for chunk in _chain(chunks, session.flush):
            chunk = chunk[0, 0].cpu()
            dropped = min(skip, chunk.shape[-1])
            chunk = chunk[dropped : dropped + remaining]
            skip, remaining = skip - dropped, remaining - chunk.shape[-1]
            yield chunk


def _chain(chunks: Iterator[torch.Tensor], last: Callable[[], torch.Tensor]) -> Iterator[torch.Tensor]:
    yield from chunks
    yield last()


def _drain(blocks: Iterator[torch.Tensor], sink: AudioSink) -> int:
    written = 0
    for block in blocks:
        if block.numel():
            sink(block)
            written += block.numel()
    return written


def _write_file(
    path: Path, blocks: Iterator[torch.Tensor], sample_rate: int, subtype: str | None, exclusive: bool = False
) -> int:
    """Write mono blocks to `path` through a temp file and a rename; the format follows the extension."""
    fmt = soundfile_format(path)
    tmp = temp_path_for(path)
    try:
        with sf.SoundFile(str(tmp), "w", samplerate=sample_rate, channels=1, format=fmt, subtype=subtype) as out:
            written = _drain(blocks, lambda block: out.write(block.clamp(-1, 1).numpy()))
        publish(tmp, path, exclusive)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return written
