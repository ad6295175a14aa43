"""Semantic teachers for the first codebooks, behind one contract, selected by `teacher.kind` through TEACHERS.

A `Teacher` tells the training loop what the data loader must provide (phone targets, precomputed
features), which head trains with the codec (stored under `head_name` in aux.safetensors) and the
distillation loss of the semantic codebooks' quantized output. Kinds that run a model over audio
(`torchaudio`, `whisper`) are `FeatureModel`s: the loop distils toward their features on the fly
and `codec prep-teacher` stores the same features beside each file (`extract_features`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Protocol, runtime_checkable

import torch
from torch import nn

from codec.losses.distillation import DistillationHead, PhoneHead
from codec.models.torchaudio_teacher import TorchaudioTeacher, TorchaudioTeacherConfig
from codec.models.whisper_teacher import WhisperEncoderTeacher, WhisperTeacherConfig
from codec.schema import OneOf, bounded

__all__ = [
    "TEACHERS",
    "FeatureModel",
    "Teacher",
    "TeacherConfig",
    "build_feature_model",
    "build_teacher",
    "extract_features",
]


@runtime_checkable
class FeatureModel(Protocol):
    """A frozen model whose features a codebook is distilled toward."""

    sample_rate: int
    frame_rate: float
    dim: int

    def features(self, audio: torch.Tensor, lengths: torch.Tensor, sample_rate: int) -> torch.Tensor:
        """Audio [B, 1, T] at `sample_rate` with lengths [B] -> features [B, F', dim] at `frame_rate`."""
        ...


class Teacher:
    """The contract the training loop uses; this base is the `none` teacher (no distillation)."""

    head_name: str | None = None
    phone_ids: dict[str, int] | None = None  # the data loader yields frame phone targets (batch.phones)
    feature_suffix: str | None = None  # the data loader yields precomputed features (batch.teacher)

    def head(self, latent_dim: int) -> nn.Module | None:
        """The module trained with the codec on the semantic output (None: nothing to train)."""
        return None

    def to(self, device: torch.device | str) -> Teacher:
        """Move any model the teacher runs."""
        return self

    def loss(
        self,
        head: nn.Module | None,
        semantic: torch.Tensor,
        frame_lengths: torch.Tensor,
        batch: Any,
        audio: torch.Tensor,
        lengths: torch.Tensor,
        sample_rate: int,
    ) -> torch.Tensor | None:
        """Distillation loss of `semantic` [B, D, F] (the semantic codebooks' quantized output), or None."""
        return None


@dataclass
class NoTeacherConfig:
    """No semantic distillation."""

    kind: Literal["none"] = "none"


@dataclass
class PhonesTeacherConfig:
    """Frame-level phone targets from manifest alignments (`phones` lists the inventory; empty = from the data)."""

    kind: Literal["phones"] = "phones"
    phones: list[str] = field(default_factory=list)


@dataclass
class PrecomputedTeacherConfig:
    """Features beside each audio file (AUDIO.<suffix>.safetensors, `dim` wide), e.g. from `codec prep-teacher`."""

    kind: Literal["precomputed"] = "precomputed"
    suffix: str = "teacher"
    dim: int = bounded(768, 1, 65536)


@dataclass
class TeacherData:
    """What a teacher may need from the run: the training utterances, where they came from, the device."""

    utterances: Sequence[Any] = ()
    source: str = ""
    device: str = "cpu"


class NoTeacher(Teacher):
    """`none`."""

    def __init__(self, cfg: NoTeacherConfig, data: TeacherData) -> None:
        self.cfg = cfg


class PhonesTeacher(Teacher):
    """`phones`: a linear phone classifier on the semantic output, cross-entropy against aligned phones."""

    head_name = "phones"

    def __init__(self, cfg: PhonesTeacherConfig, data: TeacherData) -> None:
        self.cfg = cfg
        phones = cfg.phones or sorted({p for u in data.utterances for _, _, p in (u.alignment or ())})
        if not phones:
            raise ValueError(f"{data.source}: teacher.kind=phones but no row has an alignment")
        self.phone_ids = {p: i for i, p in enumerate(phones)}

    def head(self, latent_dim: int) -> nn.Module:
        """PhoneHead over the inventory."""
        return PhoneHead(latent_dim, len(self.phone_ids or {}))

    def loss(self, head, semantic, frame_lengths, batch, audio, lengths, sample_rate):
        """Cross-entropy against batch.phones."""
        assert head is not None, "the phones head is missing from aux"
        return head(semantic, batch.phones.to(semantic.device), frame_lengths)


class PrecomputedTeacher(Teacher):
    """`precomputed`: cosine distillation toward features stored beside the audio."""

    head_name = "distill"

    def __init__(self, cfg: PrecomputedTeacherConfig, data: TeacherData) -> None:
        self.cfg = cfg
        self.feature_suffix = cfg.suffix

    def head(self, latent_dim: int) -> nn.Module:
        """Projection to the feature width."""
        return DistillationHead(latent_dim, self.cfg.dim)

    def loss(self, head, semantic, frame_lengths, batch, audio, lengths, sample_rate):
        """Cosine distance to batch.teacher [B, F', D]."""
        assert head is not None, "the distill head is missing from aux"
        return head(semantic, batch.teacher.to(semantic.device).float(), frame_lengths, teacher_layout="btd")


class ModelTeacher(Teacher):
    """Any FeatureModel as a teacher: cosine distillation toward its features, computed on the fly."""

    head_name = "distill"

    def __init__(self, model: FeatureModel) -> None:
        self.model = model

    def head(self, latent_dim: int) -> nn.Module:
        """Projection to the model's feature width."""
        return DistillationHead(latent_dim, self.model.dim)

    def to(self, device: torch.device | str) -> ModelTeacher:
        """Move the model when it is a torch module."""
        if isinstance(self.model, nn.Module):
            self.model.to(device)
        return self

    def loss(self, head, semantic, frame_lengths, batch, audio, lengths, sample_rate):
        """Cosine distance to the model's features of the batch audio."""
        target = self.model.features(audio, lengths, sample_rate)
        assert head is not None, "the distill head is missing from aux"
        return head(semantic, target.float(), frame_lengths, teacher_layout="btd")


def _torchaudio(cfg: TorchaudioTeacherConfig, data: TeacherData) -> TorchaudioTeacher:
    return TorchaudioTeacher(cfg).to(data.device)


def _whisper(cfg: WhisperTeacherConfig, data: TeacherData) -> WhisperEncoderTeacher:
    return WhisperEncoderTeacher.from_config(cfg, data.device)


@dataclass(frozen=True)
class TeacherKind:
    """One registered teacher: its config dataclass and the factory (cfg, data) -> Teacher or FeatureModel."""

    config: type
    build: Any


TEACHERS: dict[str, TeacherKind] = {
    "none": TeacherKind(NoTeacherConfig, NoTeacher),
    "phones": TeacherKind(PhonesTeacherConfig, PhonesTeacher),
    "precomputed": TeacherKind(PrecomputedTeacherConfig, PrecomputedTeacher),
    "torchaudio": TeacherKind(TorchaudioTeacherConfig, _torchaudio),
    "whisper": TeacherKind(WhisperTeacherConfig, _whisper),
}
# Keys of the flat TeacherConfig every kind shared before: ignored by kinds that do not use them.
LEGACY_TEACHER_KEYS = frozenset({"model", "layer", "weights", "random_init", "suffix", "dim", "phones"})
TEACHER = OneOf("teacher", TEACHERS, "none", LEGACY_TEACHER_KEYS)
TeacherSpec = Annotated[Any, TEACHER]  # the type of TrainConfig.teacher


def TeacherConfig(kind: str = "none", **values: Any) -> Any:  # the old class name, kept as a factory
    """The config of teacher `kind` from keyword values (the old flat fields other kinds used are ignored)."""
    return TEACHER.make(kind, values)


def _entry(cfg: Any) -> TeacherKind:
    kind = getattr(cfg, "kind", None)
    if kind not in TEACHERS or not isinstance(cfg, TEACHERS[kind].config):
        raise ValueError(f"teacher.kind must be one of {sorted(TEACHERS)}, got {kind!r}")
    return TEACHERS[kind]


def build_teacher(cfg: Any, data: TeacherData | None = None) -> Teacher:
    """The training-loop Teacher for `cfg` (a FeatureModel kind is wrapped in ModelTeacher)."""
    built = _entry(cfg).build(cfg, data or TeacherData())
    return ModelTeacher(built) if isinstance(built, FeatureModel) else built


def build_feature_model(cfg: Any, device: str = "cpu") -> FeatureModel:
    """The FeatureModel for `cfg` on `device` (for `codec prep-teacher`); ValueError for kinds without one."""
    built = _entry(cfg).build(cfg, TeacherData(device=device))
    if not isinstance(built, FeatureModel):
        raise ValueError(f"teacher kind {cfg.kind!r} computes no features from audio")
    return built


def extract_features(model: FeatureModel, wav: torch.Tensor, sample_rate: int, device: str = "cpu") -> torch.Tensor:
    """One file's mono audio [T] at `sample_rate` -> features [F', dim] (the per-file form of `features`)."""
    audio = wav.reshape(1, 1, -1).to(device)
    return model.features(audio, torch.tensor([audio.shape[-1]], device=device), sample_rate)[0]
