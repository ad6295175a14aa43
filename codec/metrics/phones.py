"""Phone / code alignment metrics: frame phone labels, phone purity and PNMI."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch

from codec.metrics._common import IntSequence


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
