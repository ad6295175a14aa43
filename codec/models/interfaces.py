"""The contracts between the codec's parts: Encoder, Quantizer, Decoder (and the facts they share).

A codec is encoder -> quantizer -> decoder over latent frames [B, latent_dim, F] at
`sample_rate / frame_size` frames per second. Each part is an nn.Module built from its own config
dataclass and the shared `CodecShape`; `codec.models.parts` maps each config `kind` to its class.
Streaming state (causal models) lives in `codec.nn.streaming.StreamingModule`s inside a part.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import torch


@dataclass(frozen=True)
class CodecShape:
    """What every part of one codec agrees on."""

    sample_rate: int
    frame_size: int
    latent_dim: int
    causal: bool


@dataclass
class QuantizerOutput:
    """What one differentiable quantizer pass produced (latent-shaped tensors are [B, D, F])."""

    quantized: torch.Tensor
    semantic_quantized: torch.Tensor
    codes: torch.Tensor
    commitment_loss: torch.Tensor
    num_codebooks_used: torch.Tensor


@runtime_checkable
class Encoder(Protocol):
    """Audio [B, 1, F * frame_size] at the codec rate -> latent [B, latent_dim, F], zero past each item's frames."""

    cfg: Any
    shape: CodecShape

    def __call__(self, audio: torch.Tensor, frame_lengths: torch.Tensor | None = None) -> torch.Tensor: ...


@runtime_checkable
class Decoder(Protocol):
    """Latent [B, latent_dim, F] -> audio [B, 1, F * frame_size]; streaming output lags by `lookahead` samples."""

    cfg: Any
    shape: CodecShape

    @property
    def lookahead(self) -> int: ...

    def __call__(self, latent: torch.Tensor, frame_lengths: torch.Tensor | None = None) -> torch.Tensor: ...

    def flush(self) -> torch.Tensor:
        """End of a stream: the last `lookahead` samples [B, 1, lookahead]."""
        ...


@runtime_checkable
class Quantizer(Protocol):
    """Latent [B, D, F] <-> int64 codes [B, K, F]; `codes[:, :k]` is a valid lower bitrate for every k."""

    cfg: Any
    num_codebooks: int
    codebook_size: int
    num_semantic_codebooks: int

    def __call__(
        self, latent: torch.Tensor, mask: torch.Tensor | None = None, num_codebooks: int | None = None
    ) -> QuantizerOutput: ...

    def encode(self, latent: torch.Tensor, num_codebooks: int | None = None) -> torch.Tensor: ...

    def decode(self, codes: torch.Tensor) -> torch.Tensor: ...

    def check_initialised(self) -> None:
        """Raise ValueError when the codebooks cannot give meaningful codes yet."""
        ...

    def codebook_stats(self, codes: torch.Tensor, frame_lengths: torch.Tensor) -> dict[str, float]:
        """Per-codebook statistics for logging: perplexity_k, used_k (fraction), dead_k (entries)."""
        ...
