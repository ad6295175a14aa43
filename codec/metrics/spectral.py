"""Spectral distances: log-mel, multi-scale log-mel and multi-resolution STFT distance."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
import torchaudio.functional as AF

from codec.metrics._common import SI_SDR_EPS, ArrayLike, IntSequence, _item_pairs

LOG_FLOOR = 1e-5
"""Magnitudes are clamped to at least this before log10 (mel and STFT distances)."""

MEL_WINDOW_MS = 64.0
MEL_BANDS = 80
MULTISCALE_MEL_WINDOWS_MS = (32.0, 64.0, 128.0)
STFT_WINDOWS_MS = (32.0, 64.0, 128.0)


def _fft_size(sample_rate: int, window_ms: float) -> int:
    """Window / FFT length in samples for `window_ms` at `sample_rate`."""
    return max(8, round(window_ms * sample_rate / 1000.0))


@lru_cache(maxsize=32)
def _hann(n_fft: int) -> torch.Tensor:
    """Periodic Hann window (cached)."""
    return torch.hann_window(n_fft, periodic=True)


@lru_cache(maxsize=32)
def _mel_fbank(n_fft: int, n_mels: int, sample_rate: int) -> torch.Tensor:
    """HTK mel filterbank [n_fft // 2 + 1, n_mels], 0 Hz to Nyquist, unnormalised triangles."""
    return AF.melscale_fbanks(
        n_freqs=n_fft // 2 + 1,
        f_min=0.0,
        f_max=sample_rate / 2.0,
        n_mels=n_mels,
        sample_rate=sample_rate,
        norm=None,
        mel_scale="htk",
    )


def _magnitude(x: torch.Tensor, n_fft: int) -> torch.Tensor:
    """|STFT| [frames, n_fft // 2 + 1]: Hann window n_fft, hop n_fft // 4, centred, zero-padded."""
    spec = torch.stft(
        x,
        n_fft=n_fft,
        hop_length=n_fft // 4,
        window=_hann(n_fft).to(x.device),
        center=True,
        pad_mode="constant",
        return_complex=True,
    )
    return spec.abs().transpose(0, 1)


def _log10_floor(x: torch.Tensor) -> torch.Tensor:
    """log10(max(x, LOG_FLOOR))."""
    return torch.log10(torch.clamp(x, min=LOG_FLOOR))


def _log_mel(x: torch.Tensor, sample_rate: int, window_ms: float) -> torch.Tensor:
    """log10 mel magnitude [frames, n_mels] at one resolution."""
    n_fft = _fft_size(sample_rate, window_ms)
    n_mels = round(MEL_BANDS * window_ms / MEL_WINDOW_MS)
    mel = _magnitude(x, n_fft) @ _mel_fbank(n_fft, n_mels, sample_rate).to(x.device)
    return _log10_floor(mel)


def _mel_distance_at(ref: torch.Tensor, est: torch.Tensor, sample_rate: int, window_ms: float) -> float:
    """Mean |log-mel difference| over frames and bands at one resolution."""
    return (_log_mel(ref, sample_rate, window_ms) - _log_mel(est, sample_rate, window_ms)).abs().mean().item()


@torch.no_grad()
def log_mel_distance(ref: ArrayLike, est: ArrayLike, sample_rate: int, lengths: IntSequence | None = None) -> float:
    """Mean absolute log10-mel difference (80 bands, 64 ms window, 16 ms hop); 0 = identical."""
    pairs = _item_pairs(ref, est, lengths)
    return float(np.mean([_mel_distance_at(r, e, sample_rate, MEL_WINDOW_MS) for r, e in pairs]))


@torch.no_grad()
def multiscale_log_mel_distance(
    ref: ArrayLike, est: ArrayLike, sample_rate: int, lengths: IntSequence | None = None
) -> float:
    """log_mel_distance averaged over 32/64/128 ms windows with 40/80/160 mel bands."""
    pairs = _item_pairs(ref, est, lengths)
    scores = [np.mean([_mel_distance_at(r, e, sample_rate, w) for w in MULTISCALE_MEL_WINDOWS_MS]) for r, e in pairs]
    return float(np.mean(scores))


@dataclass(frozen=True)
class STFTDistance:
    """Multi-resolution STFT distance; `total` = spectral_convergence + log_magnitude."""

    spectral_convergence: float
    log_magnitude: float

    @property
    def total(self) -> float:
        """Sum of the two terms (the usual multi-resolution STFT loss value)."""
        return self.spectral_convergence + self.log_magnitude


def _stft_terms_at(ref: torch.Tensor, est: torch.Tensor, n_fft: int) -> tuple[float, float]:
    """(spectral convergence, mean |log10 magnitude difference|) at one resolution."""
    mag_r, mag_e = _magnitude(ref, n_fft), _magnitude(est, n_fft)
    sc = torch.linalg.norm(mag_r - mag_e) / torch.clamp(torch.linalg.norm(mag_r), min=SI_SDR_EPS)
    log_l1 = (_log10_floor(mag_r) - _log10_floor(mag_e)).abs().mean()
    return sc.item(), log_l1.item()


@torch.no_grad()
def stft_distance(ref: ArrayLike, est: ArrayLike, sample_rate: int, lengths: IntSequence | None = None) -> STFTDistance:
    """Multi-resolution STFT distance over 32/64/128 ms Hann windows (hop = window / 4)."""
    terms = [
        _stft_terms_at(r, e, _fft_size(sample_rate, w))
        for r, e in _item_pairs(ref, est, lengths)
        for w in STFT_WINDOWS_MS
    ]
    sc, log_l1 = np.mean(terms, axis=0)
    return STFTDistance(spectral_convergence=float(sc), log_magnitude=float(log_l1))
