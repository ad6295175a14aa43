"""Streaming (chunked) tokenize/detokenize for causal models, and their algorithmic latency.

    with model.streaming(batch_size=1):
        codes = model.encode_chunk(audio_chunk)   # [B, 1, n*frame_size] -> [B, K, n]
        audio = model.decode_chunk(codes)         # [B, k, n] -> [B, 1, n*frame_size]
        tail = model.flush()                      # end of stream -> [B, 1, lookahead]

Contract (docs/streaming.md): codes equal offline `tokenize` codes of the concatenated audio;
`decode_chunk` returns exactly n*frame_size samples per call, and the concatenated output, delayed
by `lookahead` samples (its first `lookahead` samples are zeros), followed by `flush()` equals offline
`detokenize` of the concatenated codes. Chunks must hold whole frames: callers buffer the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from codec.config import CodecConfig
from codec.nn.streaming import set_streaming

if TYPE_CHECKING:  # annotations only: the model imports this module, never the other way round
    from codec.models.codec import Codec


@dataclass(frozen=True)
class LatencyInfo:
    """Algorithmic latency of a streaming codec: one frame of input buffering + decoder lookahead.

    For non-causal models `streamable` is False and lookahead/total are None (they need the whole window).
    """

    sample_rate: int
    streamable: bool
    frame_samples: int
    lookahead_samples: int | None
    total_samples: int | None

    @property
    def frame_ms(self) -> float:
        """One frame in milliseconds."""
        return 1000.0 * self.frame_samples / self.sample_rate

    @property
    def lookahead_ms(self) -> float | None:
        """Decoder lookahead in milliseconds (None when not streamable)."""
        return None if self.lookahead_samples is None else 1000.0 * self.lookahead_samples / self.sample_rate

    @property
    def total_ms(self) -> float | None:
        """Frame + lookahead in milliseconds (None when not streamable)."""
        return None if self.total_samples is None else 1000.0 * self.total_samples / self.sample_rate

    def describe(self) -> str:
        """One line for `codec info`."""
        if not self.streamable:
            return f"not streamable (non-causal); frame {self.frame_ms:g} ms"
        return (
            f"{self.total_ms:g} ms = frame {self.frame_ms:g} ms + decoder lookahead {self.lookahead_ms:g} ms "
            f"({self.total_samples} samples)"
        )


def decoder_lookahead(cfg: CodecConfig) -> int:
    """Samples by which a causal decoder's streaming output lags (its kind's config says; 0 for conv)."""
    return cfg.decoder.lookahead(cfg.shape)


def algorithmic_latency(cfg: CodecConfig) -> LatencyInfo:
    """Latency from an input sample to its reconstruction when streaming (compute time excluded)."""
    if not cfg.causal:
        return LatencyInfo(cfg.sample_rate, False, cfg.frame_size, None, None)
    lookahead = decoder_lookahead(cfg)
    return LatencyInfo(cfg.sample_rate, True, cfg.frame_size, lookahead, cfg.frame_size + lookahead)


class ExclusiveStream:
    """`with session:` puts `session.model` in streaming mode (one session per model at a time) and takes it out."""

    model: Any

    def __enter__(self):
        if self.model.stream is not None:
            raise ValueError("model is already streaming; leave the other `with model.streaming()` first")
        self.model.stream = self
        self.reset()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
        self.model.stream = None

    def reset(self) -> None:
        """Start a new stream (called on entry)."""
        raise NotImplementedError

    def release(self) -> None:
        """Drop per-stream state on exit (nothing by default)."""


class StreamForwarding:
    """The chunk calls of a model in `with model.streaming(B):`, forwarded to its active session (`model.stream`)."""

    stream: Any

    def _active_stream(self) -> Any:
        if self.stream is None:
            raise ValueError("not streaming: use `with model.streaming(batch_size):` around encode_chunk/decode_chunk")
        return self.stream

    def encode_chunk(self, audio: torch.Tensor, num_codebooks: int | None = None) -> torch.Tensor:
        """Streaming: a chunk of audio [B, 1, n * samples per chunk frame] -> its codes [B, k, n]."""
        return self._active_stream().encode_chunk(audio, num_codebooks)

    def decode_chunk(self, codes: torch.Tensor) -> torch.Tensor:
        """Streaming: codes [B, k, n] -> the audio now complete [B, 1, n * frame_size], delayed by the lookahead."""
        return self._active_stream().decode_chunk(codes)

    def flush(self) -> torch.Tensor:
        """Streaming: end of stream, the decoder's held-back last samples [B, 1, lookahead]."""
        return self._active_stream().flush()

    def reset_streaming(self) -> None:
        """Streaming: back to the initial state (a new stream)."""
        self._active_stream().reset()


class StreamingSession(ExclusiveStream):
    """Context manager holding a causal model in streaming mode (state lives in its modules)."""

    def __init__(self, model: Codec, batch_size: int = 1) -> None:
        if not model.cfg.causal:
            raise ValueError(
                f"model {model.model_id!r} is not causal (cfg.causal=False); "
                "streaming needs a causal model; use codec.runtime.longform for long files"
            )
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.model, self.batch_size = model, int(batch_size)
        self.latency = algorithmic_latency(model.cfg)

    def release(self) -> None:
        """Turn the modules' streaming state off."""
        set_streaming(self.model, None)

    def reset(self) -> None:
        """Back to the initial state (a new stream) for both encoder and decoder."""
        set_streaming(self.model.encoder, self.batch_size)
        set_streaming(self.model.decoder, self.batch_size)

    @torch.inference_mode()
    def encode_chunk(self, audio: torch.Tensor, num_codebooks: int | None = None) -> torch.Tensor:
        """Audio [B, 1, n*frame_size] (or [B, n*frame_size]) at the model rate -> codes int64 [B, k, n]."""
        model = self.model
        audio = audio[:, None] if audio.dim() == 2 else audio
        if audio.dim() != 3 or audio.shape[:2] != (self.batch_size, 1):
            raise ValueError(f"audio chunk must be [{self.batch_size}, 1, T], got {tuple(audio.shape)}")
        if audio.shape[-1] % model.frame_size:
            raise ValueError(
                f"audio chunk of {audio.shape[-1]} samples is not a multiple of frame_size "
                f"{model.frame_size}; buffer samples until you have whole frames"
            )
        k = model.check_num_codebooks(num_codebooks)
        if audio.shape[-1] == 0:
            return torch.zeros(self.batch_size, k, 0, dtype=torch.long, device=model.device)
        latent = model.encoder(audio.to(model.device, torch.float32), None)
        return model.quantizer.encode(latent, k).long()

    @torch.inference_mode()
    def decode_chunk(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes [B, k, n] -> audio [B, 1, n*frame_size], the stream delayed by `latency.lookahead_samples`."""
        model = self.model
        if codes.dim() != 3 or codes.shape[0] != self.batch_size or codes.is_floating_point():
            raise ValueError(
                f"codes chunk must be integers [{self.batch_size}, k, n], got {tuple(codes.shape)} {codes.dtype}"
            )
        model.check_num_codebooks(codes.shape[1])
        if codes.numel() and (int(codes.min()) < 0 or int(codes.max()) >= model.codebook_size):
            raise ValueError(f"token ids must be in [0, {model.codebook_size - 1}]")
        if codes.shape[-1] == 0:
            return torch.zeros(self.batch_size, 1, 0, device=model.device)
        return model.decoder(model.quantizer.decode(codes.to(model.device)), None)

    @torch.inference_mode()
    def flush(self) -> torch.Tensor:
        """End of stream: the decoder's last `lookahead` samples [B, 1, lookahead]; the decoder starts afresh."""
        tail = self.model.decoder.flush()
        set_streaming(self.model.decoder, self.batch_size)
        return tail
