"""Framed STFT analysis and overlap-add inverse STFT with exact frame/sample alignment.

Frame f covers samples [f*hop - pad_left, f*hop - pad_left + n_fft): centred on the frame's hop
for non-causal models (pad_left = (n_fft - hop) / 2), ending at the frame's last sample for
causal ones (pad_left = n_fft - hop). Audio of F*hop samples gives exactly F frames and back.

Streaming (causal only): FrameSTFT keeps the last n_fft - hop samples as the next chunk's left
context. The causal ISTFTHead trims n_fft - hop samples at the left, so an output sample is only
complete once the frames up to (n_fft - hop) / hop frames later have been added: streaming, it emits
every overlap-add position as soon as it is complete, which delays its output stream by exactly
`lookahead` = n_fft - hop samples (the first `lookahead` samples emitted are zeros) and `flush()`
gives the last `lookahead` samples at the end.
"""

from __future__ import annotations

import torch
from torch import nn

from codec.nn.masks import length_mask
from codec.nn.streaming import OverlapAddBuffer, PreviousInputs, StreamingModule, left_context, zeros_context


def check_frame_fft(n_fft: int, hop: int, where: str) -> None:
    """Raise ValueError unless `n_fft` >= `hop` and differs from it by an even number (exact frame alignment)."""
    if n_fft < hop or (n_fft - hop) % 2:
        raise ValueError(f"{where}: n_fft {n_fft} must be >= frame_size {hop} and differ from it by an even number")


def istft_lookahead(n_fft: int, hop: int) -> int:
    """Samples by which the causal inverse STFT's streaming output lags its input frames: n_fft - hop."""
    return n_fft - hop


class FrameSTFT(StreamingModule):
    """Audio [B, 1, F*hop] -> complex spectrum [B, n_fft/2+1, F]."""

    window: torch.Tensor

    def __init__(self, n_fft: int, hop: int, causal: bool) -> None:
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        extra = n_fft - hop
        self.padding = (extra, 0) if causal else (extra // 2, extra - extra // 2)
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        if self.streaming_state is not None:
            x = left_context(self, audio, self.padding[0])[:, 0]
        else:
            x = nn.functional.pad(audio[:, 0], self.padding)
        frames = x.unfold(-1, self.n_fft, self.hop)  # [B, F, n_fft]
        return torch.fft.rfft(frames * self.window, dim=-1).transpose(1, 2)

    def init_state(self, batch_size: int) -> PreviousInputs:
        """Zero left context (as offline padding)."""
        if self.padding[1]:
            raise ValueError("only the causal STFT can stream")
        return zeros_context(self, batch_size, 1, self.padding[0])


class ISTFTHead(StreamingModule):
    """Features [B, dim, F] -> log-magnitude and phase -> overlap-added audio [B, 1, F*hop]."""

    window: torch.Tensor

    def __init__(self, dim: int, n_fft: int, hop: int, causal: bool) -> None:
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        self.proj = nn.Linear(dim, n_fft + 2)
        extra = n_fft - hop
        self.trim_left = extra if causal else extra // 2
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)

    def forward(self, x: torch.Tensor, frame_lengths: torch.Tensor | None = None) -> torch.Tensor:
        mag_log, phase = self.proj(x.transpose(1, 2)).float().chunk(2, dim=-1)  # [B, F, n_fft/2+1] each
        with torch.autocast(x.device.type, enabled=False):  # exp, polar and irfft need float32 under bf16
            spec = torch.polar(torch.exp(mag_log.clamp(max=6.0)), phase)
            frames = torch.fft.irfft(spec, n=self.n_fft, dim=-1) * self.window  # [B, F, n_fft]
        if self.streaming_state is not None:
            return self.overlap_add_step(frames)
        return self.overlap_add(frames, frame_lengths)

    @property
    def lookahead(self) -> int:
        """Samples of output delay when streaming (the causal trim, n_fft - hop)."""
        return istft_lookahead(self.n_fft, self.hop)

    def init_state(self, batch_size: int) -> OverlapAddBuffer:
        """An empty overlap-add buffer (and no output yet)."""
        if self.trim_left != self.lookahead:
            raise ValueError("only the causal iSTFT head can stream")
        zeros = torch.zeros(batch_size, self.lookahead, device=self.state_device())
        return OverlapAddBuffer(audio=zeros, envelope=zeros[0].clone(), warmup=self.lookahead)

    def overlap_add_step(self, frames: torch.Tensor) -> torch.Tensor:
        """Streaming overlap-add of frames [B, n, n_fft] -> the n*hop positions now complete [B, 1, n*hop]."""
        state, keep = self.streaming_state, frames.shape[1] * self.hop
        fold = dict(output_size=(1, keep + self.lookahead), kernel_size=(1, self.n_fft), stride=(1, self.hop))
        audio = nn.functional.fold(frames.transpose(1, 2), **fold)[:, 0, 0]
        env = self.window.square()[None, :, None].expand(1, -1, frames.shape[1])
        envelope = nn.functional.fold(env, **fold)[0, 0, 0]
        audio = torch.cat([audio[:, : self.lookahead] + state.audio, audio[:, self.lookahead :]], dim=-1)
        envelope = torch.cat([envelope[: self.lookahead] + state.envelope, envelope[self.lookahead :]])
        state.audio, state.envelope = audio[:, keep:], envelope[keep:]
        out = audio[:, :keep] / envelope[:keep].clamp(min=1e-5)
        if state.warmup:
            silent = min(state.warmup, keep)
            out = torch.cat([torch.zeros_like(out[:, :silent]), out[:, silent:]], dim=-1)
            state.warmup -= silent
        return out[:, None]

    def flush(self) -> torch.Tensor:
        """End of stream: the last `lookahead` samples [B, 1, lookahead] still in the buffer."""
        state = self.streaming_state
        return (state.audio / state.envelope.clamp(min=1e-5))[:, None]

    def overlap_add(self, frames: torch.Tensor, frame_lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Windowed frames [B, F, n_fft] -> [B, 1, F*hop], normalised by the squared-window envelope.

        Frames past an item's length are left out of both the sum and the envelope, so a padded
        batch gives each item exactly what it would get alone.
        """
        batch, num_frames, _ = frames.shape
        total = (num_frames - 1) * self.hop + self.n_fft
        fold = dict(output_size=(1, total), kernel_size=(1, self.n_fft), stride=(1, self.hop))
        present = torch.ones(batch, num_frames, device=frames.device, dtype=frames.dtype)
        if frame_lengths is not None:
            present = length_mask(frame_lengths, num_frames).to(frames.dtype)
        audio = nn.functional.fold((frames * present[..., None]).transpose(1, 2), **fold)[:, 0, 0]
        env = self.window.square()[None, :, None] * present[:, None, :]
        envelope = nn.functional.fold(env, **fold)[:, 0, 0]
        audio = audio / envelope.clamp(min=1e-5)
        start = self.trim_left
        return audio[:, None, start : start + num_frames * self.hop]
