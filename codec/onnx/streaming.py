"""`OnnxStreamingSession`: `with model.streaming(B):` on the ONNX backend, running the step graphs.

The same calls and contract as codec.runtime.streaming.StreamingSession (docs/streaming.md), except that a
chunk must hold a multiple of the export's `chunk_samples` samples (`chunk_frames` frames), not of
one frame: the step graphs have a fixed chunk size. Callers buffer the rest, as with torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from codec.onnx.files import MANIFEST
from codec.runtime.streaming import ExclusiveStream, algorithmic_latency

if TYPE_CHECKING:
    from codec.onnx.backend import OnnxCodec


class _StepRunner:
    """One step graph with its state arrays (`state.<name>` in, `next.<name>` out), for `batch_size` streams."""

    def __init__(self, model: OnnxCodec, graph: str, entry: dict, batch_size: int) -> None:
        self.session = model._session(graph)
        self.layout, self.batch_size = entry["state"], batch_size
        self.outputs = [o.name for o in self.session.get_outputs()]
        self.reset()

    def reset(self) -> None:
        """Every state at zeros (the start of a stream)."""
        self.state = {
            f"state.{s['name']}": np.zeros(
                [self.batch_size if d == "batch" else d for d in s["shape"]], dtype=s["dtype"]
            )
            for s in self.layout
        }

    def run(self, name: str, x: np.ndarray) -> list[np.ndarray]:
        """One step on `x`: the graph's outputs before its next state; the state is kept."""
        values = self.session.run(None, {name: x, **self.state})
        results = []
        for output, value in zip(self.outputs, values):
            if output.startswith("next."):
                self.state["state." + output.removeprefix("next.")] = np.asarray(value)
            else:
                results.append(value)
        return results


class OnnxStreamingSession(ExclusiveStream):
    """Context manager holding an OnnxCodec in streaming mode (state lives in this object)."""

    def __init__(self, model: OnnxCodec, batch_size: int = 1) -> None:
        streaming = model.manifest.get("streaming")
        if not model.cfg.causal or not streaming:
            raise ValueError(
                f"model {model.model_id!r} has no streaming step graphs in {model.directory / MANIFEST} "
                "(not causal: streaming needs a causal model; use codec.runtime.longform for long files)"
            )
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.model, self.batch_size = model, int(batch_size)
        self.latency = algorithmic_latency(model.cfg)
        self.chunk_frames: int = streaming["chunk_frames"]
        self.chunk_samples: int = streaming["chunk_samples"]
        self.lookahead: int = streaming["lookahead"]
        self.encoder = _StepRunner(model, "encode_step", streaming["encode_step"], self.batch_size)
        self.decoder = _StepRunner(model, "decode_step", streaming["decode_step"], self.batch_size)
        self.tail = self._silence()

    def _silence(self) -> np.ndarray:
        return np.zeros((self.batch_size, 1, self.lookahead), dtype=np.float32)

    def reset(self) -> None:
        """Back to the initial state (a new stream) for both encoder and decoder."""
        self.encoder.reset()
        self.decoder.reset()
        self.tail = self._silence()

    def encode_chunk(self, audio: torch.Tensor, num_codebooks: int | None = None) -> torch.Tensor:
        """Audio [B, 1, m*chunk_samples] (or [B, m*chunk_samples]) at the model rate -> codes [B, k, m*chunk_frames]."""
        audio = audio[:, None] if audio.dim() == 2 else audio
        if audio.dim() != 3 or audio.shape[:2] != (self.batch_size, 1):
            raise ValueError(f"audio chunk must be [{self.batch_size}, 1, T], got {tuple(audio.shape)}")
        if audio.shape[-1] % self.chunk_samples:
            raise ValueError(
                f"audio chunk of {audio.shape[-1]} samples is not a multiple of the exported step, "
                f"{self.chunk_samples} samples ({self.chunk_frames} frames); buffer samples until "
                "you have whole steps"
            )
        k = self.model.check_num_codebooks(num_codebooks)
        wav = audio.detach().float().cpu().contiguous().numpy()
        codes = [
            self.encoder.run("audio", wav[..., i : i + self.chunk_samples])[0]
            for i in range(0, wav.shape[-1], self.chunk_samples)
        ]
        if not codes:
            return torch.zeros(self.batch_size, k, 0, dtype=torch.long)
        return torch.from_numpy(np.concatenate(codes, axis=-1)[:, :k]).contiguous()

    def decode_chunk(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes [B, k, m*chunk_frames] -> audio [B, 1, m*chunk_samples], the stream delayed by `lookahead` samples."""
        if codes.dim() != 3 or codes.shape[0] != self.batch_size or codes.is_floating_point():
            raise ValueError(
                f"codes chunk must be integers [{self.batch_size}, k, n], got {tuple(codes.shape)} {codes.dtype}"
            )
        self.model.check_num_codebooks(codes.shape[1])
        if codes.numel() and (int(codes.min()) < 0 or int(codes.max()) >= self.model.codebook_size):
            raise ValueError(f"token ids must be in [0, {self.model.codebook_size - 1}]")
        if codes.shape[-1] % self.chunk_frames:
            raise ValueError(
                f"codes chunk of {codes.shape[-1]} frames is not a multiple of the exported step, "
                f"{self.chunk_frames} frames; buffer codes until you have whole steps"
            )
        array = codes.long().cpu().contiguous().numpy()
        audio = []
        for i in range(0, array.shape[-1], self.chunk_frames):
            out, self.tail = self.decoder.run("codes", array[..., i : i + self.chunk_frames])
            audio.append(out)
        if not audio:
            return torch.zeros(self.batch_size, 1, 0)
        return torch.from_numpy(np.concatenate(audio, axis=-1))

    def flush(self) -> torch.Tensor:
        """End of stream: the decoder's last `lookahead` samples [B, 1, lookahead]; the decoder starts afresh."""
        tail = torch.from_numpy(self.tail)
        self.decoder.reset()
        self.tail = self._silence()
        return tail
