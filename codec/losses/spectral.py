"""Spectral reconstruction losses: multi-scale mel L1 and multi-resolution STFT loss.

Both losses take waveforms shaped [B, T] or [B, 1, T] (estimate first, target second) and an
optional `lengths` [B] of valid samples. With `lengths`, samples at or past `lengths[b]` are zeroed
in both signals and STFT frames whose centre lies in the padding are excluded from every mean, so
the loss of an item does not depend on how much padding its batch added. Losses run in float32 with
autocast disabled.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torchaudio
from torch import nn

from codec.nn.masks import length_mask

REFERENCE_SAMPLE_RATE = 16000
DEFAULT_MEL_WINDOWS: tuple[int, ...] = (32, 64, 128, 256, 512, 1024, 2048)
DEFAULT_MEL_BINS: tuple[int, ...] = (5, 10, 20, 40, 80, 160, 320)


def as_batch_waveform(wav: torch.Tensor) -> torch.Tensor:
    """Return a float32 [B, T] view of a [B, T] or [B, 1, T] waveform."""
    if wav.dim() == 3:
        if wav.shape[1] != 1:
            raise ValueError(f"expected mono audio [B, 1, T], got shape {tuple(wav.shape)}")
        wav = wav[:, 0]
    if wav.dim() != 2:
        raise ValueError(f"expected audio shaped [B, T] or [B, 1, T], got shape {tuple(wav.shape)}")
    return wav.float()


def stft_frame_mask(lengths: torch.Tensor, num_frames: int, hop_length: int) -> torch.Tensor:
    """Boolean [B, num_frames] mask of centred STFT frames whose centre sample is valid."""
    valid_frames = torch.div(lengths + hop_length - 1, hop_length, rounding_mode="floor")
    return length_mask(valid_frames.clamp(min=1), num_frames)


def masked_mean(values: torch.Tensor, frame_mask: torch.Tensor | None) -> torch.Tensor:
    """Mean of `values` [B, C, F] over all entries whose frame is valid in `frame_mask` [B, F]."""
    if frame_mask is None:
        return values.mean()
    weights = frame_mask.to(values.dtype).unsqueeze(1).expand_as(values)
    return (values * weights).sum() / weights.sum().clamp(min=1.0)


def _prepare(
    estimate: torch.Tensor, target: torch.Tensor, lengths: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate shapes and zero the padding of both signals."""
    estimate, target = as_batch_waveform(estimate), as_batch_waveform(target)
    if estimate.shape != target.shape:
        raise ValueError(f"estimate {tuple(estimate.shape)} and target {tuple(target.shape)} differ in shape")
    if lengths is not None:
        if lengths.shape != (estimate.shape[0],):
            raise ValueError(f"lengths must have shape [{estimate.shape[0]}], got {tuple(lengths.shape)}")
        mask = length_mask(lengths.to(estimate.device), estimate.shape[-1]).to(estimate.dtype)
        estimate, target = estimate * mask, target * mask
    return estimate, target


def level_loss(
    estimate: torch.Tensor,
    target: torch.Tensor,
    lengths: torch.Tensor | None = None,
    frame: int = 320,
    floor_db: float = -60.0,
) -> torch.Tensor:
    """Mean |log10 energy| difference of `frame`-sample frames (in bels; 0.1 = 1 dB), frames below `floor_db` clamped.

    Per-bin log losses (the mel L1) are minimised by the median of each bin's log power, which lies below
    its mean wherever the fine structure is unpredictable: the decoder then comes out a few dB too quiet.
    A frame's energy sums many bins, so its log is not biased that way; this loss holds the level.
    """
    estimate, target = _prepare(estimate, target, lengths)
    with torch.autocast(device_type=estimate.device.type, enabled=False):
        frames = estimate.shape[-1] // frame
        if frames == 0:
            return estimate.new_zeros(())
        floor = 10.0 ** (floor_db / 10.0)
        power_x = estimate[:, : frames * frame].float().unflatten(-1, (frames, frame)).square().mean(-1)
        power_y = target[:, : frames * frame].float().unflatten(-1, (frames, frame)).square().mean(-1)
        diff = (torch.log10(power_x.clamp(min=floor)) - torch.log10(power_y.clamp(min=floor))).abs()  # [B, F]
        mask = None if lengths is None else length_mask(torch.div(lengths, frame, rounding_mode="floor"), frames)
        return masked_mean(diff[:, None], mask)


class SignalLoss(nn.Module):
    """A loss between two signals, computed in float32 on prepared [B, T] signals by the subclass's `_loss`."""

    def forward(
        self, estimate: torch.Tensor, target: torch.Tensor, lengths: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Scalar loss between `estimate` and `target` ([B, T] or [B, 1, T]); `lengths` [B] in samples masks padding."""
        with torch.autocast(device_type=estimate.device.type, enabled=False):
            return self._loss(*_prepare(estimate, target, lengths), lengths)

    def _loss(self, estimate: torch.Tensor, target: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
        raise NotImplementedError


class MultiScaleMelLoss(SignalLoss):
    """L1 between log (and optionally linear) mel spectrograms at several window sizes, summed over scales.

    Window sizes (and hence n_fft; hop = window // 4) are given at `reference_sample_rate` and scaled
    by `sample_rate / reference_sample_rate`. Per scale the loss is
    `log_weight * |log10(clamp(mel_x)^power) - log10(clamp(mel_y)^power)| + mag_weight * |mel_x - mel_y|`
    averaged over valid frames and mel bins; scales are summed (so the value grows with the number of scales).
    """

    def __init__(
        self,
        sample_rate: int = REFERENCE_SAMPLE_RATE,
        window_lengths: Sequence[int] = DEFAULT_MEL_WINDOWS,
        n_mels: Sequence[int] = DEFAULT_MEL_BINS,
        *,
        log_weight: float = 1.0,
        mag_weight: float = 0.0,
        clamp_eps: float = 1e-5,
        power: float = 2.0,
        f_min: float = 0.0,
        f_max: float | None = None,
        reference_sample_rate: int = REFERENCE_SAMPLE_RATE,
    ) -> None:
        super().__init__()
        if len(window_lengths) != len(n_mels):
            raise ValueError("window_lengths and n_mels must have the same length")
        self.log_weight = log_weight
        self.mag_weight = mag_weight
        self.clamp_eps = clamp_eps
        self.power = power
        scale = sample_rate / reference_sample_rate
        self.window_lengths = tuple(max(8, 2 * round(w * scale / 2)) for w in window_lengths)
        self.hop_lengths = tuple(w // 4 for w in self.window_lengths)
        self.transforms = nn.ModuleList(
            torchaudio.transforms.MelSpectrogram(
                sample_rate=sample_rate,
                n_fft=window,
                win_length=window,
                hop_length=hop,
                f_min=f_min,
                f_max=f_max,
                n_mels=mels,
                power=1.0,
                center=True,
                pad_mode="constant",
                norm="slaney",
                mel_scale="slaney",
            )
            for window, hop, mels in zip(self.window_lengths, self.hop_lengths, n_mels)
        )

    def _loss(self, estimate: torch.Tensor, target: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
        """Float32 mel loss of prepared [B, T] signals."""
        total = estimate.new_zeros(())
        for transform, hop in zip(self.transforms, self.hop_lengths):
            mel_x, mel_y = transform(estimate), transform(target)  # [B, n_mels, F]
            frame_mask = None if lengths is None else stft_frame_mask(lengths.to(mel_x.device), mel_x.shape[-1], hop)
            if self.log_weight:
                log_x = torch.log10(mel_x.clamp(min=self.clamp_eps).pow(self.power))
                log_y = torch.log10(mel_y.clamp(min=self.clamp_eps).pow(self.power))
                total = total + self.log_weight * masked_mean((log_x - log_y).abs(), frame_mask)
            if self.mag_weight:
                total = total + self.mag_weight * masked_mean((mel_x - mel_y).abs(), frame_mask)
        return total


class MultiResolutionSTFTLoss(SignalLoss):
    """Spectral convergence + log-magnitude L1 averaged over several STFT resolutions (ParallelWaveGAN style).

    Spectral convergence is `||S_y - S_x||_F / ||S_y||_F` per item (averaged over the batch);
    log-magnitude is the mean `|log S_x - log S_y|` over valid frames and bins.
    """

    def __init__(
        self,
        fft_sizes: Sequence[int] = (1024, 2048, 512),
        hop_sizes: Sequence[int] = (120, 240, 50),
        win_lengths: Sequence[int] = (600, 1200, 240),
        *,
        sc_weight: float = 1.0,
        log_mag_weight: float = 1.0,
        clamp_eps: float = 1e-7,
    ) -> None:
        super().__init__()
        if not len(fft_sizes) == len(hop_sizes) == len(win_lengths):
            raise ValueError("fft_sizes, hop_sizes and win_lengths must have the same length")
        if any(w > n for w, n in zip(win_lengths, fft_sizes)):
            raise ValueError("each win_length must be <= its fft_size")
        self.fft_sizes = tuple(fft_sizes)
        self.hop_sizes = tuple(hop_sizes)
        self.win_lengths = tuple(win_lengths)
        self.sc_weight = sc_weight
        self.log_mag_weight = log_mag_weight
        self.clamp_eps = clamp_eps
        for index, win in enumerate(self.win_lengths):
            self.register_buffer(f"window_{index}", torch.hann_window(win), persistent=False)

    def _magnitude(self, wav: torch.Tensor, index: int) -> torch.Tensor:
        """Magnitude STFT [B, bins, F] at resolution `index`."""
        spec = torch.stft(
            wav,
            n_fft=self.fft_sizes[index],
            hop_length=self.hop_sizes[index],
            win_length=self.win_lengths[index],
            window=getattr(self, f"window_{index}"),
            center=True,
            pad_mode="constant",
            return_complex=True,
        )
        return spec.abs().clamp(min=self.clamp_eps)

    def _loss(self, estimate: torch.Tensor, target: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
        """Float32 multi-resolution STFT loss of prepared [B, T] signals."""
        total = estimate.new_zeros(())
        for index, hop in enumerate(self.hop_sizes):
            mag_x, mag_y = self._magnitude(estimate, index), self._magnitude(target, index)
            frame_mask = None if lengths is None else stft_frame_mask(lengths.to(mag_x.device), mag_x.shape[-1], hop)
            weights = torch.ones_like(mag_x[:, 0]) if frame_mask is None else frame_mask.to(mag_x.dtype)
            weights = weights.unsqueeze(1)
            diff_norm = ((mag_y - mag_x).pow(2) * weights).sum(dim=(1, 2)).sqrt()
            target_norm = (mag_y.pow(2) * weights).sum(dim=(1, 2)).sqrt().clamp(min=self.clamp_eps)
            spectral_convergence = (diff_norm / target_norm).mean()
            log_mag = masked_mean((mag_x.log() - mag_y.log()).abs(), frame_mask)
            total = total + self.sc_weight * spectral_convergence + self.log_mag_weight * log_mag
        return total / len(self.fft_sizes)
