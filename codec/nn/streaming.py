"""Per-module streaming state for causal models (chunked inference equal to offline inference).

A streamable module keeps `streaming_state` = None offline. `codec.runtime.streaming.StreamingSession`
sets it to the module's `init_state(batch_size)` and the module's forward then carries context
across calls instead of zero-padding: left-padded convs keep their last inputs, transposed convs
keep the partial overlap of their last output, and the inverse-STFT head keeps its overlap-add
buffer. All state is typed here; nothing of it is a parameter or buffer (state dicts are unchanged).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn


@dataclass
class PreviousInputs:
    """The last `previous.shape[-1]` inputs of a left-padded op: its causal padding for the next chunk."""

    previous: torch.Tensor


@dataclass
class PartialOverlap:
    """The tail of a transposed conv's last output (bias removed) still to be added to the next chunk."""

    partial: torch.Tensor


@dataclass
class OverlapAddBuffer:
    """Inverse-STFT overlap-add positions not yet complete (summed frames and squared window), and how
    many of the next emitted samples are still warm-up (trimmed offline, emitted as zeros)."""

    audio: torch.Tensor
    envelope: torch.Tensor
    warmup: int


class StreamingModule(nn.Module):
    """Base for modules with chunked (streaming) behaviour; offline when `streaming_state` is None."""

    streaming_state: Any = None

    def init_state(self, batch_size: int) -> Any:
        """The state at the start of a stream."""
        raise NotImplementedError

    def state_device(self) -> torch.device:
        """Where the state tensors live (the module's parameters or buffers)."""
        for tensor in (*self.parameters(), *self.buffers()):
            return tensor.device
        return torch.device("cpu")


def streaming_modules(root: nn.Module) -> Iterator[StreamingModule]:
    """Every StreamingModule under `root` (itself included)."""
    return (m for m in root.modules() if isinstance(m, StreamingModule))


def set_streaming(root: nn.Module, batch_size: int | None) -> None:
    """Start (batch_size given) or stop (None) streaming in every StreamingModule under `root`."""
    for module in streaming_modules(root):
        module.streaming_state = None if batch_size is None else module.init_state(batch_size)


def left_context(module: StreamingModule, x: torch.Tensor, left: int) -> torch.Tensor:
    """`x` [B, C, N] with `left` samples in front: zeros offline, the previous chunk's last inputs when streaming."""
    state = module.streaming_state
    if state is None:
        return nn.functional.pad(x, (left, 0))
    full = torch.cat([state.previous, x], dim=-1)
    state.previous = full[..., full.shape[-1] - left :]
    return full


def zeros_context(module: StreamingModule, batch_size: int, channels: int, left: int) -> PreviousInputs:
    """Initial PreviousInputs: `left` zero samples, as offline zero padding."""
    return PreviousInputs(torch.zeros(batch_size, channels, left, device=module.state_device()))
