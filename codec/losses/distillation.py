"""Semantic distillation: cosine loss against SSL teacher features, and a frame-level phone classifier.

Student (codec) features are channels-first [B, D, F] at the codec frame rate. Teacher features may be
[B, F', Dt] ("btd", the HuggingFace/fairseq layout) or [B, Dt, F'] ("bdt") at any frame rate; each
item's valid teacher frames are linearly interpolated (frame centres aligned) onto its valid student
frames, so 50 Hz vs 12.5 Hz teachers and off-by-one frame counts (49 vs 50) are both handled, and
padded teacher frames never influence the loss.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from codec.nn.masks import length_mask

TeacherLayout = Literal["auto", "btd", "bdt"]


def teacher_to_btd(teacher: torch.Tensor, dim: int, layout: TeacherLayout = "auto") -> torch.Tensor:
    """Return teacher features as [B, F', Dt]; "auto" finds the axis equal to `dim` and raises if both are."""
    if teacher.dim() != 3:
        raise ValueError(f"teacher features must be 3-D, got shape {tuple(teacher.shape)}")
    if layout == "auto":
        last, middle = teacher.shape[-1] == dim, teacher.shape[1] == dim
        if last and middle:
            raise ValueError(
                f"teacher shape {tuple(teacher.shape)} is ambiguous for width {dim}; pass teacher_layout='btd' or 'bdt'"
            )
        if not (last or middle):
            raise ValueError(f"teacher shape {tuple(teacher.shape)} has no axis of width {dim}")
        layout = "btd" if last else "bdt"
    if layout == "bdt":
        teacher = teacher.transpose(1, 2)
    elif layout != "btd":
        raise ValueError(f"unknown teacher_layout {layout!r}")
    if teacher.shape[-1] != dim:
        raise ValueError(f"teacher width {teacher.shape[-1]} does not match student width {dim}")
    return teacher


def _resolve_lengths(
    student_frames: int,
    teacher_frames: int,
    student_lengths: torch.Tensor | None,
    teacher_lengths: torch.Tensor | None,
    batch: int,
    device: torch.device,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Fill in missing valid-frame counts; a missing side is derived proportionally from the other."""
    if student_lengths is not None:
        student_lengths = student_lengths.to(device=device, dtype=torch.long)
    if teacher_lengths is not None:
        teacher_lengths = teacher_lengths.to(device=device, dtype=torch.long)
    if student_lengths is None and teacher_lengths is None:
        student_lengths = torch.full((batch,), student_frames, device=device, dtype=torch.long)
        teacher_lengths = torch.full((batch,), teacher_frames, device=device, dtype=torch.long)
    elif teacher_lengths is None:
        assert student_lengths is not None
        teacher_lengths = torch.round(student_lengths.double() * teacher_frames / student_frames).long()
    elif student_lengths is None:
        student_lengths = torch.round(teacher_lengths.double() * student_frames / teacher_frames).long()
    assert student_lengths is not None and teacher_lengths is not None
    for name, value in (("student_lengths", student_lengths), ("teacher_lengths", teacher_lengths)):
        if value.shape != (batch,):
            raise ValueError(f"{name} must have shape [{batch}], got {tuple(value.shape)}")
    return student_lengths.clamp(1, student_frames), teacher_lengths.clamp(1, teacher_frames)


def resample_frames(
    features: torch.Tensor, source_lengths: torch.Tensor, target_lengths: torch.Tensor, num_frames: int
) -> torch.Tensor:
    """Linearly interpolate each item's first `source_lengths[b]` frames of [B, F', D] onto `target_lengths[b]` frames.

    Returns [B, num_frames, D]; frames past `target_lengths[b]` repeat the last valid frame.
    """
    batch, _, dim = features.shape
    src = source_lengths.to(features.device).double().unsqueeze(1)  # [B, 1]
    tgt = target_lengths.to(features.device).double().unsqueeze(1)
    frame = torch.arange(num_frames, device=features.device, dtype=torch.float64).unsqueeze(0)  # [1, F]
    position = ((frame + 0.5) * src / tgt - 0.5).clamp(min=0.0)
    position = torch.minimum(position, src - 1)
    lower = position.floor().long()
    upper = torch.minimum(lower + 1, src.long() - 1)
    weight = (position - lower.double()).to(features.dtype).unsqueeze(-1)
    gather = lambda index: features.gather(1, index.unsqueeze(-1).expand(batch, num_frames, dim))  # noqa: E731
    return gather(lower) * (1.0 - weight) + gather(upper) * weight


def cosine_distillation_loss(
    student: torch.Tensor,
    teacher: torch.Tensor,
    student_lengths: torch.Tensor | None = None,
    teacher_lengths: torch.Tensor | None = None,
    teacher_layout: TeacherLayout = "auto",
) -> torch.Tensor:
    """Mean over valid student frames of 1 - cos(student [B, D, F], time-resampled teacher); teacher is detached.

    `student_lengths` / `teacher_lengths` [B] count valid frames; a missing one is derived from the other in
    proportion to the padded sizes (F / F'), and with neither all frames are valid.
    """
    if student.dim() != 3:
        raise ValueError(f"student features must be [B, D, F], got shape {tuple(student.shape)}")
    batch, dim, frames = student.shape
    student = student.float()  # computed in float32 even under autocast
    teacher_btd = teacher_to_btd(teacher.detach(), dim, teacher_layout).float()
    if teacher_btd.shape[0] != batch:
        raise ValueError(f"teacher batch {teacher_btd.shape[0]} does not match student batch {batch}")
    student_lengths, teacher_lengths = _resolve_lengths(
        frames, teacher_btd.shape[1], student_lengths, teacher_lengths, batch, student.device
    )
    target = resample_frames(teacher_btd, teacher_lengths, student_lengths, frames)  # [B, F, Dt]
    cosine = F.cosine_similarity(student.transpose(1, 2), target, dim=-1, eps=1e-8)  # [B, F]
    mask = length_mask(student_lengths, frames).to(cosine.dtype)
    return ((1.0 - cosine) * mask).sum() / mask.sum().clamp(min=1.0)


class FrameProjection(nn.Module):
    """A linear map of channels-first frame features [B, in_dim, F] -> [B, out_dim, F] (`proj`)."""

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.in_dim = in_dim
        self.proj = nn.Linear(in_dim, out_dim)

    def project(self, features: torch.Tensor) -> torch.Tensor:
        """Map features [B, in_dim, F] to [B, out_dim, F]."""
        return self.proj(features.transpose(1, 2)).transpose(1, 2)


class DistillationHead(FrameProjection):
    """Linear projection of codec features to the teacher width, with the cosine distillation loss."""

    def __init__(self, in_dim: int, teacher_dim: int) -> None:
        super().__init__(in_dim, teacher_dim)
        self.teacher_dim = teacher_dim

    def forward(
        self,
        student: torch.Tensor,
        teacher: torch.Tensor,
        student_lengths: torch.Tensor | None = None,
        teacher_lengths: torch.Tensor | None = None,
        teacher_layout: TeacherLayout = "auto",
    ) -> torch.Tensor:
        """Scalar cosine distillation loss of projected `student` [B, in_dim, F] against `teacher`."""
        return cosine_distillation_loss(
            self.project(student), teacher, student_lengths, teacher_lengths, teacher_layout
        )


def resample_labels(targets: torch.Tensor, num_frames: int) -> torch.Tensor:
    """Nearest-frame (centre-aligned) resampling of integer labels [B, F'] to [B, num_frames]."""
    source_frames = targets.shape[-1]
    if source_frames == num_frames:
        return targets
    frame = torch.arange(num_frames, device=targets.device, dtype=torch.float64)
    index = ((frame + 0.5) * source_frames / num_frames).floor().long().clamp(0, source_frames - 1)
    return targets[:, index]


def phone_loss(logits: torch.Tensor, targets: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
    """Cross-entropy of logits [B, P, F] against phone ids [B, F'] (ignore_index=-1; nearest-resampled if F' != F).

    Frames at or past `lengths[b]` (codec frames) are ignored; returns 0 (with grad) if every frame is ignored.
    """
    if logits.dim() != 3 or targets.dim() != 2:
        shapes = f"{tuple(logits.shape)}, {tuple(targets.shape)}"
        raise ValueError(f"expected logits [B, P, F] and targets [B, F'], got {shapes}")
    frames = logits.shape[-1]
    targets = resample_labels(targets.long(), frames)
    if lengths is not None:
        valid = length_mask(lengths.to(targets.device), frames)
        targets = targets.masked_fill(~valid, -1)
    if not bool((targets != -1).any()):
        return logits.sum() * 0.0
    return F.cross_entropy(logits.float(), targets, ignore_index=-1)


class PhoneHead(FrameProjection):
    """Linear frame-level phone classifier on codec features, trained with cross-entropy."""

    def __init__(self, in_dim: int, num_phones: int) -> None:
        super().__init__(in_dim, num_phones)
        self.num_phones = num_phones

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        """Phone logits [B, num_phones, F] for features [B, in_dim, F]."""
        return self.project(features)

    def forward(
        self, features: torch.Tensor, targets: torch.Tensor, lengths: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Scalar cross-entropy of the head's logits against phone ids [B, F'] (-1 = ignore)."""
        return phone_loss(self.logits(features), targets, lengths)


def phone_accuracy(logits: torch.Tensor, targets: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
    """Frame accuracy of logits [B, P, F] over non-ignored targets (resampled/masked as in `phone_loss`)."""
    frames = logits.shape[-1]
    targets = resample_labels(targets.long(), frames)
    if lengths is not None:
        targets = targets.masked_fill(~length_mask(lengths.to(targets.device), frames), -1)
    valid = targets != -1
    correct = (logits.argmax(dim=1) == targets) & valid
    return correct.sum().float() / valid.sum().clamp(min=1).float()
