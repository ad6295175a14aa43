"""Objective metrics for codec evaluation and training logs (definitions in docs/metrics.md).

Audio arguments are float tensors (or numpy arrays) in [-1, 1], shaped [T], [B, T] or [B, 1, T];
`ref` and `est` must have the same shape. Batched audio may carry `lengths` (valid samples per
item); each item is scored on its valid samples and the item scores are averaged.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from types import ModuleType
from typing import Union

import numpy as np
import torch
import torchaudio.functional as AF

ArrayLike = Union[torch.Tensor, np.ndarray]
IntSequence = Union[torch.Tensor, np.ndarray, Sequence[int]]

LOG_FLOOR = 1e-5
"""Magnitudes are clamped to at least this before log10 (mel and STFT distances)."""

MEL_WINDOW_MS = 64.0
MEL_BANDS = 80
MULTISCALE_MEL_WINDOWS_MS = (32.0, 64.0, 128.0)
STFT_WINDOWS_MS = (32.0, 64.0, 128.0)
SI_SDR_EPS = 1e-8
PESQ_SAMPLE_RATE = 16000
EVAL_INSTALL_HINT = "pip install 'speechcodec[eval]'"


# ---------------------------------------------------------------------------
# Audio input handling
# ---------------------------------------------------------------------------


def _as_batch(audio: ArrayLike, name: str) -> torch.Tensor:
    """Float32 CPU-or-device tensor [B, T] from [T], [B, T] or [B, 1, T]."""
    x = torch.as_tensor(audio)
    if x.dim() == 3:
        if x.shape[1] != 1:
            raise ValueError(f"{name} must be mono [B, 1, T], got shape {tuple(x.shape)}")
        x = x[:, 0]
    elif x.dim() == 1:
        x = x[None]
    elif x.dim() != 2:
        raise ValueError(f"{name} must be [T], [B, T] or [B, 1, T], got shape {tuple(x.shape)}")
    return x.detach().float()


def _item_pairs(
    ref: ArrayLike, est: ArrayLike, lengths: IntSequence | None
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per-item (ref, est) 1-D tensors trimmed to their valid samples."""
    r, e = _as_batch(ref, "ref"), _as_batch(est, "est")
    if r.shape != e.shape:
        raise ValueError(f"ref and est shapes differ: {tuple(r.shape)} vs {tuple(e.shape)}")
    if lengths is None:
        valid = [r.shape[1]] * r.shape[0]
    else:
        valid = [int(n) for n in torch.as_tensor(lengths).reshape(-1).tolist()]
        if len(valid) != r.shape[0]:
            raise ValueError(f"lengths has {len(valid)} entries for a batch of {r.shape[0]}")
        if any(n < 1 or n > r.shape[1] for n in valid):
            raise ValueError(f"lengths must lie in [1, {r.shape[1]}], got {valid}")
    if r.shape[0] == 0:
        raise ValueError("empty batch")
    return [(r[b, :n], e[b, :n]) for b, n in enumerate(valid)]


def _require_samples(x: torch.Tensor, minimum: int, what: str) -> None:
    """Raise ValueError if `x` is shorter than `minimum` samples."""
    if x.shape[-1] < minimum:
        raise ValueError(f"{what} needs at least {minimum} samples, got {x.shape[-1]}")


# ---------------------------------------------------------------------------
# Spectral distances
# ---------------------------------------------------------------------------


def _fft_size(sample_rate: int, window_ms: float) -> int:
    """Window / FFT length in samples for `window_ms` at `sample_rate`."""
    return max(8, int(round(window_ms * sample_rate / 1000.0)))


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
    n_mels = int(round(MEL_BANDS * window_ms / MEL_WINDOW_MS))
    mel = _magnitude(x, n_fft) @ _mel_fbank(n_fft, n_mels, sample_rate).to(x.device)
    return _log10_floor(mel)


def _mel_distance_at(ref: torch.Tensor, est: torch.Tensor, sample_rate: int, window_ms: float) -> float:
    """Mean |log-mel difference| over frames and bands at one resolution."""
    return (_log_mel(ref, sample_rate, window_ms) - _log_mel(est, sample_rate, window_ms)).abs().mean().item()


@torch.no_grad()
def log_mel_distance(
    ref: ArrayLike, est: ArrayLike, sample_rate: int, lengths: IntSequence | None = None
) -> float:
    """Mean absolute log10-mel difference (80 bands, 64 ms window, 16 ms hop); 0 = identical."""
    pairs = _item_pairs(ref, est, lengths)
    return float(np.mean([_mel_distance_at(r, e, sample_rate, MEL_WINDOW_MS) for r, e in pairs]))


@torch.no_grad()
def multiscale_log_mel_distance(
    ref: ArrayLike, est: ArrayLike, sample_rate: int, lengths: IntSequence | None = None
) -> float:
    """log_mel_distance averaged over 32/64/128 ms windows with 40/80/160 mel bands."""
    pairs = _item_pairs(ref, est, lengths)
    scores = [
        np.mean([_mel_distance_at(r, e, sample_rate, w) for w in MULTISCALE_MEL_WINDOWS_MS]) for r, e in pairs
    ]
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
def stft_distance(
    ref: ArrayLike, est: ArrayLike, sample_rate: int, lengths: IntSequence | None = None
) -> STFTDistance:
    """Multi-resolution STFT distance over 32/64/128 ms Hann windows (hop = window / 4)."""
    terms = [
        _stft_terms_at(r, e, _fft_size(sample_rate, w))
        for r, e in _item_pairs(ref, est, lengths)
        for w in STFT_WINDOWS_MS
    ]
    sc, log_l1 = np.mean(terms, axis=0)
    return STFTDistance(spectral_convergence=float(sc), log_magnitude=float(log_l1))


# ---------------------------------------------------------------------------
# Waveform metrics
# ---------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------
# Codebook statistics
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CodebookUsage:
    """Per-codebook unigram statistics over valid frames (tuples have one entry per codebook)."""

    codebook_size: int
    num_frames: int
    used_fraction: tuple[float, ...]
    perplexity: tuple[float, ...]
    entropy_bits: tuple[float, ...]

    @property
    def num_codebooks(self) -> int:
        """Number of codebooks (K)."""
        return len(self.entropy_bits)

    def bitrate(self, frame_rate: float) -> float:
        """First-order entropy bitrate in bits/s: sum of per-codebook entropies x frame_rate."""
        return float(sum(self.entropy_bits)) * float(frame_rate)


def _valid_code_frames(
    codes: torch.Tensor | Sequence[torch.Tensor], lengths: IntSequence | None
) -> torch.Tensor:
    """All valid frames as int64 [K, N] from [B, K, F] + lengths, [K, F] or a list of [K, F_i]."""
    if isinstance(codes, (list, tuple)):
        if lengths is not None:
            raise ValueError("pass lengths=None when codes is a list of [K, F_i] tensors")
        items = [torch.as_tensor(c) for c in codes]
    else:
        codes = torch.as_tensor(codes)
        if codes.dim() == 2:
            codes = codes[None]
        if codes.dim() != 3:
            raise ValueError(f"codes must be [B, K, F], [K, F] or a list of [K, F_i], got {tuple(codes.shape)}")
        if lengths is None:
            items = list(codes)
        else:
            valid = torch.as_tensor(lengths).reshape(-1).tolist()
            if len(valid) != codes.shape[0]:
                raise ValueError(f"lengths has {len(valid)} entries for a batch of {codes.shape[0]}")
            items = [codes[b, :, : int(n)] for b, n in enumerate(valid)]
    if not items or any(c.dim() != 2 for c in items) or len({c.shape[0] for c in items}) != 1:
        raise ValueError("every item of codes must be [K, F_i] with the same K")
    return torch.cat([c.long() for c in items], dim=1)


def codebook_counts(
    codes: torch.Tensor | Sequence[torch.Tensor], lengths: IntSequence | None, codebook_size: int
) -> torch.Tensor:
    """Occurrence counts int64 [K, codebook_size] of each entry over valid frames (sum across batches)."""
    flat = _valid_code_frames(codes, lengths)
    if flat.numel() and (int(flat.min()) < 0 or int(flat.max()) >= codebook_size):
        raise ValueError(f"codes must lie in [0, {codebook_size}), got [{int(flat.min())}, {int(flat.max())}]")
    offsets = torch.arange(flat.shape[0], device=flat.device)[:, None] * codebook_size
    counts = torch.bincount((flat + offsets).reshape(-1), minlength=flat.shape[0] * codebook_size)
    return counts.reshape(flat.shape[0], codebook_size).cpu()


def _entropy_bits(counts: torch.Tensor) -> torch.Tensor:
    """Shannon entropy in bits of each row of a count matrix (0 log 0 = 0)."""
    p = counts.double() / counts.double().sum(dim=-1, keepdim=True)
    return -(torch.where(p > 0, p * torch.log2(p), torch.zeros_like(p))).sum(dim=-1)


def usage_from_counts(counts: torch.Tensor) -> CodebookUsage:
    """CodebookUsage from a [K, codebook_size] count matrix (e.g. summed over a dataset)."""
    counts = torch.as_tensor(counts)
    totals = counts.sum(dim=-1)
    if counts.dim() != 2 or bool((totals == 0).any()):
        raise ValueError("counts must be [K, codebook_size] with at least one valid frame")
    entropy = _entropy_bits(counts)
    return CodebookUsage(
        codebook_size=int(counts.shape[1]),
        num_frames=int(totals[0]),
        used_fraction=tuple(((counts > 0).sum(dim=-1).double() / counts.shape[1]).tolist()),
        perplexity=tuple(torch.exp2(entropy).tolist()),
        entropy_bits=tuple(entropy.tolist()),
    )


def codebook_usage(
    codes: torch.Tensor | Sequence[torch.Tensor], lengths: IntSequence | None, codebook_size: int
) -> CodebookUsage:
    """Per-codebook used fraction, perplexity and entropy (bits) over valid frames."""
    return usage_from_counts(codebook_counts(codes, lengths, codebook_size))


def empirical_bitrate(
    codes: torch.Tensor | Sequence[torch.Tensor], lengths: IntSequence | None, codebook_size: int, frame_rate: float
) -> float:
    """First-order (unigram) entropy bitrate in bits/s: sum over codebooks of entropy x frame_rate."""
    return codebook_usage(codes, lengths, codebook_size).bitrate(frame_rate)


# ---------------------------------------------------------------------------
# Phone / code alignment metrics
# ---------------------------------------------------------------------------


def _as_int_array(x: IntSequence, name: str) -> np.ndarray:
    """1-D int64 numpy array."""
    arr = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if arr.ndim != 1 or not (arr.size == 0 or np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"{name} must be a 1-D integer sequence, got shape {arr.shape} dtype {arr.dtype}")
    return arr.astype(np.int64)


def _joint_counts(codes_1d: IntSequence, phones_1d: IntSequence) -> np.ndarray:
    """Joint count matrix [num_codes_seen, num_phones_seen] over frames with phone >= 0."""
    codes, phones = _as_int_array(codes_1d, "codes_1d"), _as_int_array(phones_1d, "phones_1d")
    if codes.shape != phones.shape:
        raise ValueError(f"codes_1d and phones_1d lengths differ: {codes.size} vs {phones.size}")
    keep = phones >= 0
    if not keep.any():
        raise ValueError("no labelled frames (all phone labels are -1)")
    _, code_idx = np.unique(codes[keep], return_inverse=True)
    _, phone_idx = np.unique(phones[keep], return_inverse=True)
    joint = np.zeros((code_idx.max() + 1, phone_idx.max() + 1), dtype=np.int64)
    np.add.at(joint, (code_idx, phone_idx), 1)
    return joint


def _entropy_nats(p: np.ndarray) -> float:
    """Shannon entropy (nats) of a probability vector."""
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def phone_purity(codes_1d: IntSequence, phones_1d: IntSequence) -> float:
    """Fraction of labelled frames whose phone is the most frequent phone of their code."""
    joint = _joint_counts(codes_1d, phones_1d)
    return float(joint.max(axis=1).sum() / joint.sum())


def pnmi(codes_1d: IntSequence, phones_1d: IntSequence) -> float:
    """Phone-normalised mutual information I(phone; code) / H(phone) over labelled frames."""
    joint = _joint_counts(codes_1d, phones_1d)
    p_joint = joint / joint.sum()
    h_phone = _entropy_nats(p_joint.sum(axis=0))
    if h_phone <= 0.0:
        raise ValueError("PNMI is undefined when only one phone occurs (H(phone) = 0)")
    mutual = _entropy_nats(p_joint.sum(axis=1)) + h_phone - _entropy_nats(p_joint.reshape(-1))
    return float(min(max(mutual / h_phone, 0.0), 1.0))


def frame_phone_labels(
    alignment: Iterable[tuple[float, float, str]],
    num_frames: int,
    frame_rate: float,
    label_to_id: dict[str, int] | None = None,
    ignore_labels: Iterable[str] = (),
) -> tuple[torch.Tensor, dict[str, int]]:
    """Per-frame phone ids int64 [num_frames] (phone covering each frame centre; -1 = none) and label->id."""
    mapping = dict(label_to_id or {})
    ignored = set(ignore_labels)
    centres = (np.arange(num_frames, dtype=np.float64) + 0.5) / float(frame_rate)
    labels = np.full(num_frames, -1, dtype=np.int64)
    for start, end, label in alignment:
        if end < start:
            raise ValueError(f"alignment segment ends before it starts: {(start, end, label)}")
        first, stop = np.searchsorted(centres, [float(start), float(end)], side="left")
        if label in ignored:
            labels[first:stop] = -1
            continue
        if label not in mapping:
            mapping[label] = max(mapping.values(), default=-1) + 1
        labels[first:stop] = mapping[label]
    return torch.from_numpy(labels), mapping


__all__ = [
    "CodebookUsage",
    "STFTDistance",
    "codebook_counts",
    "codebook_usage",
    "empirical_bitrate",
    "frame_phone_labels",
    "log_mel_distance",
    "multiscale_log_mel_distance",
    "pesq_wb",
    "phone_purity",
    "pnmi",
    "si_sdr",
    "stft_distance",
    "stoi",
    "usage_from_counts",
]
