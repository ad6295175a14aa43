"""Framed STFT analysis and overlap-add inverse STFT with exact frame/sample alignment.

Frame f covers samples [f*hop - pad_left, f*hop - pad_left + n_fft): centred on the frame's hop
for non-causal models (pad_left = (n_fft - hop) / 2), ending at the frame's last sample for
causal ones (pad_left = n_fft - hop). Audio of F*hop samples gives exactly F frames and back.
"""

from __future__ import annotations

import torch
from torch import nn


class FrameSTFT(nn.Module):
    """Audio [B, 1, F*hop] -> complex spectrum [B, n_fft/2+1, F]."""

    def __init__(self, n_fft: int, hop: int, causal: bool) -> None:
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        extra = n_fft - hop
        self.padding = (extra, 0) if causal else (extra // 2, extra - extra // 2)
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        x = nn.functional.pad(audio[:, 0], self.padding)
        frames = x.unfold(-1, self.n_fft, self.hop)  # [B, F, n_fft]
        return torch.fft.rfft(frames * self.window, dim=-1).transpose(1, 2)


class ISTFTHead(nn.Module):
    """Features [B, dim, F] -> log-magnitude and phase -> overlap-added audio [B, 1, F*hop]."""

    def __init__(self, dim: int, n_fft: int, hop: int, causal: bool) -> None:
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        self.proj = nn.Linear(dim, n_fft + 2)
        extra = n_fft - hop
        self.trim_left = extra if causal else extra // 2
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)

    def forward(self, x: torch.Tensor, frame_lengths: torch.Tensor | None = None) -> torch.Tensor:
        mag_log, phase = self.proj(x.transpose(1, 2)).chunk(2, dim=-1)  # [B, F, n_fft/2+1] each
        mag = torch.exp(mag_log.clamp(max=6.0))
        spec = torch.polar(mag, phase)
        frames = torch.fft.irfft(spec, n=self.n_fft, dim=-1) * self.window  # [B, F, n_fft]
        return self.overlap_add(frames, frame_lengths)

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
            present = (torch.arange(num_frames, device=frames.device)[None] < frame_lengths[:, None]).to(frames.dtype)
        audio = nn.functional.fold((frames * present[..., None]).transpose(1, 2), **fold)[:, 0, 0]
        env = self.window.square()[None, :, None] * present[:, None, :]
        envelope = nn.functional.fold(env, **fold)[:, 0, 0]
        audio = audio / envelope.clamp(min=1e-5)
        start = self.trim_left
        return audio[:, None, start : start + num_frames * self.hop]
