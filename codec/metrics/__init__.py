"""Objective metrics for codec evaluation and training logs (definitions in docs/metrics.md).

Audio arguments are float tensors (or numpy arrays) in [-1, 1], shaped [T], [B, T] or [B, 1, T];
`ref` and `est` must have the same shape. Batched audio may carry `lengths` (valid samples per
item); each item is scored on its valid samples and the item scores are averaged.
"""

from codec.metrics.codebooks import (
    CodebookUsage,
    codebook_counts,
    codebook_usage,
    empirical_bitrate,
    usage_from_counts,
)
from codec.metrics.perceptual import dnsmos, speaker_embedding, speaker_similarity
from codec.metrics.phones import frame_phone_labels, phone_purity, pnmi
from codec.metrics.spectral import STFTDistance, log_mel_distance, multiscale_log_mel_distance, stft_distance
from codec.metrics.waveform import level_difference_db, pesq_wb, si_sdr, stoi

__all__ = [
    "CodebookUsage",
    "STFTDistance",
    "codebook_counts",
    "codebook_usage",
    "dnsmos",
    "empirical_bitrate",
    "frame_phone_labels",
    "level_difference_db",
    "log_mel_distance",
    "multiscale_log_mel_distance",
    "pesq_wb",
    "phone_purity",
    "pnmi",
    "si_sdr",
    "speaker_embedding",
    "speaker_similarity",
    "stft_distance",
    "stoi",
    "usage_from_counts",
]
