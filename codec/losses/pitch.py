"""Pitch targets for training: a batched YIN estimator on the target audio, and the f0 loss against them.

YIN (de Cheveigné & Kawahara, 2002): per frame, the cumulative-mean-normalised difference function
d'(tau) of the signal with itself shifted by tau; the first local minimum under `threshold` within
[sample_rate / f0_max, sample_rate / f0_min] is the period, refined by a parabola through its
neighbours. Frames with no such minimum, or 30 dB below the item's loudest frame, are unvoiced.
Frame f is centred on sample (f + 0.5) * hop, the codec's frame grid.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from codec.nn.masks import length_mask


@torch.no_grad()
def yin_f0(
    audio: torch.Tensor,
    sample_rate: int,
    hop: int,
    f0_min: float = 50.0,
    f0_max: float = 600.0,
    threshold: float = 0.15,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Audio [B, T] or [B, 1, T] -> (f0 Hz [B, F], voiced bool [B, F]), F = ceil(T / hop); f0 is 0 when unvoiced."""
    x = audio.reshape(audio.shape[0], -1).float()
    samples = x.shape[-1]
    frames = -(-samples // hop)
    tau_min, tau_max = max(2, int(sample_rate / f0_max)), int(sample_rate / f0_min) + 1
    integration = max(tau_max, hop)  # samples summed per lag
    window = integration + tau_max + 1
    left = window // 2 - hop // 2  # centre each window on its frame
    padded = F.pad(x, (left, frames * hop + window - samples - left))
    seg = padded.unfold(-1, window, hop)[:, :frames].double()  # [B, F, window]
    seg = seg - seg.mean(-1, keepdim=True)

    # d(tau) = sum_j (x_j - x_{j+tau})^2 over j < integration, from energies and a cross-correlation via FFT.
    size = 1 << (2 * window - 1).bit_length()
    head = seg[..., :integration]
    corr = torch.fft.irfft(torch.fft.rfft(seg, size) * torch.fft.rfft(head, size).conj(), size)[..., : tau_max + 1]
    energy = F.pad(seg.square().cumsum(-1), (1, 0))  # energy[i] = sum of the first i squares
    lags = torch.arange(tau_max + 1, device=x.device)
    shifted = energy[..., lags + integration] - energy[..., lags]
    diff = (energy[..., integration : integration + 1] + shifted - 2.0 * corr).clamp(min=0.0)
    running = diff[..., 1:].cumsum(-1) / torch.arange(1, tau_max + 1, device=x.device)
    cmnd = torch.cat([torch.ones_like(diff[..., :1]), diff[..., 1:] / running.clamp(min=1e-12)], -1)

    inner = cmnd[..., 1:-1]
    is_min = (inner <= cmnd[..., :-2]) & (inner <= cmnd[..., 2:]) & (inner < threshold)
    is_min[..., : tau_min - 1] = False
    found = is_min.any(-1)
    tau = is_min.float().argmax(-1) + 1  # first qualifying lag
    prev, here, nxt = (cmnd.gather(-1, (tau + o)[..., None])[..., 0] for o in (-1, 0, 1))
    curvature = prev - 2.0 * here + nxt
    shift = torch.where(curvature > 1e-12, 0.5 * (prev - nxt) / curvature.clamp(min=1e-12), torch.zeros_like(here))
    period = tau.double() + shift.clamp(-1.0, 1.0)

    loudness = head.square().mean(-1)
    loud = loudness > 1e-3 * loudness.amax(-1, keepdim=True).clamp(min=1e-10)
    voiced = found & loud & (loudness > 1e-10)
    f0 = torch.where(voiced, sample_rate / period, torch.zeros_like(period))
    return f0.float(), voiced


def f0_loss(
    predicted: torch.Tensor, target: torch.Tensor, voiced: torch.Tensor, frame_lengths: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean |log2 predicted - log2 target| (octaves) over voiced, valid frames [B, F]; 0 (with grad) if none."""
    frames = min(predicted.shape[-1], target.shape[-1])
    predicted, target, voiced = predicted[..., :frames], target[..., :frames], voiced[..., :frames]
    if frame_lengths is not None:
        voiced = voiced & length_mask(frame_lengths.to(voiced.device), frames)
    if not bool(voiced.any()):
        return predicted.sum() * 0.0
    error = (torch.log2(predicted.clamp(min=1.0)) - torch.log2(target.clamp(min=1.0))).abs()
    return error[voiced].mean()
