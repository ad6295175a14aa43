"""Waveform metrics: SI-SDR, and PESQ-WB / STOI via the optional `pesq` and `pystoi` packages."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from types import ModuleType

import numpy as np
import torch
import torchaudio.functional as AF

from codec.metrics._common import SI_SDR_EPS, ArrayLike, IntSequence, _item_pairs, _require_samples

PESQ_SAMPLE_RATE = 16000
EVAL_INSTALL_HINT = "pip install 'speechcodec[eval]'"


def _si_sdr_item(ref: torch.Tensor, est: torch.Tensor) -> float:
    """SI-SDR in dB of one zero-meaned pair, computed in float64."""
    r = ref.double() - ref.double().mean()
    e = est.double() - est.double().mean()
    alpha = (e @ r) / (r @ r + SI_SDR_EPS)
    target = alpha * r
    noise = e - target
    return (10.0 * torch.log10((target @ target + SI_SDR_EPS) / (noise @ noise + SI_SDR_EPS))).item()


@torch.no_grad()
def si_sdr(ref: ArrayLike, est: ArrayLike, lengths: IntSequence | None = None) -> float:
    """Scale-invariant signal-to-distortion ratio in dB (zero-mean, eps = 1e-8); higher is better."""
    return float(np.mean([_si_sdr_item(r, e) for r, e in _item_pairs(ref, est, lengths)]))


def level_difference_db(ref: ArrayLike, est: ArrayLike, lengths: IntSequence | None = None) -> float:
    """Energy of `est` relative to `ref` in dB (0 = same loudness, negative = quieter); items averaged."""

    def item(r: torch.Tensor, e: torch.Tensor) -> float:
        return 10.0 * float(torch.log10((e.double().square().mean() + 1e-12) / (r.double().square().mean() + 1e-12)))

    return float(np.mean([item(r, e) for r, e in _item_pairs(ref, est, lengths)]))


def _import_eval(module: str, function: str) -> ModuleType:
    """Import an optional evaluation dependency or raise an ImportError with the install hint."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(f"{function} needs the '{module}' package: {EVAL_INSTALL_HINT}") from err


def _resample(x: torch.Tensor, sample_rate: int, target_rate: int) -> torch.Tensor:
    """Resample a 1-D tensor (no-op at the target rate)."""
    if sample_rate == target_rate:
        return x
    return AF.resample(x, sample_rate, target_rate)


def _check_not_silent(x: torch.Tensor, what: str) -> None:
    """Raise ValueError if `x` is all (near) zero."""
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{what} contains NaN or Inf")
    if float(x.abs().max()) < 1e-7:
        raise ValueError(f"{what} is silent (all samples ~0)")


def _pesq_item(pesq_module: ModuleType, ref: torch.Tensor, est: torch.Tensor, sample_rate: int) -> float:
    """PESQ-WB of one pair after resampling to 16 kHz."""
    r = _resample(ref, sample_rate, PESQ_SAMPLE_RATE)
    e = _resample(est, sample_rate, PESQ_SAMPLE_RATE)
    _check_not_silent(r, "pesq_wb reference")
    _check_not_silent(e, "pesq_wb estimate")
    _require_samples(r, PESQ_SAMPLE_RATE // 4, "pesq_wb (0.25 s at 16 kHz)")
    try:
        return float(pesq_module.pesq(PESQ_SAMPLE_RATE, r.cpu().numpy(), e.cpu().numpy(), "wb"))
    except pesq_module.PesqError as err:
        raise ValueError(
            f"PESQ failed ({type(err).__name__}: {err}); the reference must contain audible speech "
            "and be at least 0.25 s long"
        ) from err


@torch.no_grad()
def pesq_wb(ref: ArrayLike, est: ArrayLike, sample_rate: int, lengths: IntSequence | None = None) -> float:
    """Wide-band PESQ (ITU-T P.862.2 MOS-LQO, 1.04-4.64) via the `pesq` package, at 16 kHz."""
    pesq_module = _import_eval("pesq", "pesq_wb")
    pairs = _item_pairs(ref, est, lengths)
    return float(np.mean([_pesq_item(pesq_module, r, e, sample_rate) for r, e in pairs]))


def _stoi_item(
    stoi_fn: Callable[..., float], ref: torch.Tensor, est: torch.Tensor, sample_rate: int, extended: bool
) -> float:
    """STOI of one pair; pystoi's 'too short after silence removal' warning becomes a ValueError."""
    _check_not_silent(ref, "stoi reference")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = float(stoi_fn(ref.cpu().double().numpy(), est.cpu().double().numpy(), sample_rate, extended=extended))
    if any("Not enough STFT frames" in str(w.message) for w in caught):
        raise ValueError("STOI needs at least ~384 ms of non-silent reference audio (30 frames at 10 kHz)")
    return value


@torch.no_grad()
def stoi(
    ref: ArrayLike,
    est: ArrayLike,
    sample_rate: int,
    lengths: IntSequence | None = None,
    extended: bool = False,
) -> float:
    """Short-time objective intelligibility (0-1, `extended=True` for ESTOI) via `pystoi`."""
    stoi_fn = _import_eval("pystoi", "stoi").stoi
    pairs = _item_pairs(ref, est, lengths)
    return float(np.mean([_stoi_item(stoi_fn, r, e, sample_rate, extended) for r, e in pairs]))
