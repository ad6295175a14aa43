"""Random fixed-length crops with per-step deterministic sampling (resume reproduces the same batches)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from torch.utils.data import Dataset

from codec.data.manifest import Utterance
from codec.errors import one_line
from codec.io.audio import resample

log = logging.getLogger("codec.data")


@dataclass
class Crop:
    """One training example: mono audio [1, S] at the model rate, valid samples, optional per-frame targets."""

    audio: torch.Tensor
    length: int
    phones: torch.Tensor | None = None
    teacher: torch.Tensor | None = None


@dataclass
class Batch:
    """Collated crops; `skipped` counts unusable items dropped from this batch."""

    audio: torch.Tensor
    lengths: torch.Tensor
    phones: torch.Tensor | None
    teacher: torch.Tensor | None
    skipped: int


class CropDataset(Dataset):
    """Index by (utterance, seed): reads only the crop from disk, resamples, pads to `segment_samples`."""

    def __init__(
        self,
        utterances: list[Utterance],
        sample_rate: int,
        segment_samples: int,
        frame_rate: float,
        phone_ids: dict[str, int] | None = None,
        teacher_suffix: str | None = None,
    ) -> None:
        self.utterances = utterances
        self.sample_rate = sample_rate
        self.segment_samples = segment_samples
        self.frame_rate = frame_rate
        self.phone_ids = phone_ids
        self.teacher_suffix = teacher_suffix

    def __len__(self) -> int:
        return len(self.utterances)

    def __getitem__(self, key: tuple[int, int]) -> Crop | None:
        index, seed = key
        utt = self.utterances[index]
        try:
            return self._crop(utt, np.random.default_rng(seed))
        except Exception as err:  # bad data must never stop training
            log.warning("skipping %s: %s", utt.path, one_line(err, utt.path))
            return None

    def _crop(self, utt: Utterance, rng: np.random.Generator) -> Crop:
        info = sf.info(str(utt.path))
        if info.frames == 0:
            raise ValueError("zero-length audio")
        want = int(np.ceil(self.segment_samples * info.samplerate / self.sample_rate))
        start = int(rng.integers(0, max(1, info.frames - want + 1)))
        data, _ = sf.read(str(utt.path), start=start, frames=want, dtype="float32", always_2d=True)
        wav = torch.from_numpy(data.T.copy()).mean(0, keepdim=True)
        if not torch.isfinite(wav).all():
            raise ValueError("NaN or Inf samples")
        wav = resample(wav, info.samplerate, self.sample_rate)[:, : self.segment_samples]
        length = wav.shape[-1]
        wav = torch.nn.functional.pad(wav, (0, self.segment_samples - length))
        start_s = start / info.samplerate
        frames = int(np.ceil(self.segment_samples * self.frame_rate / self.sample_rate))
        phones = self._phones(utt, self.phone_ids, start_s, frames) if self.phone_ids is not None else None
        teacher = self._teacher(utt, self.teacher_suffix, start_s, frames) if self.teacher_suffix else None
        return Crop(wav, length, phones, teacher)

    def _phones(self, utt: Utterance, phone_ids: dict[str, int], start_s: float, frames: int) -> torch.Tensor:
        labels = torch.full((frames,), -1, dtype=torch.long)
        for begin, end, phone in utt.alignment or ():
            first = int(np.ceil((begin - start_s) * self.frame_rate - 0.5))
            last = int(np.ceil((end - start_s) * self.frame_rate - 0.5))
            if phone in phone_ids and last > 0 and first < frames:
                labels[max(first, 0) : min(last, frames)] = phone_ids[phone]
        return labels

    def _teacher(self, utt: Utterance, suffix: str, start_s: float, frames: int) -> torch.Tensor:
        path = teacher_feature_path(utt.path, suffix)
        from safetensors.torch import load_file

        stored = load_file(str(path))
        feats, rate = stored["features"], float(stored["frame_rate"])
        first = round(start_s * rate)
        count = round(frames * rate / self.frame_rate)
        out = feats[first : first + count]
        return torch.nn.functional.pad(out, (0, 0, 0, count - out.shape[0]))


def teacher_feature_path(audio_path: Path, suffix: str) -> Path:
    """Where precomputed teacher features for an audio file live: beside it, `<name>.<suffix>.safetensors`."""
    return audio_path.with_name(f"{audio_path.name}.{suffix}.safetensors")


def collate(crops: list[Crop | None]) -> Batch:
    """Stack usable crops; count the None ones (unreadable files) as skipped."""
    good = [c for c in crops if c is not None]
    skipped = len(crops) - len(good)
    if not good:
        return Batch(torch.zeros(0, 1, 0), torch.zeros(0, dtype=torch.long), None, None, skipped)
    # one dataset gives every crop the same targets: all or none have phones (and teacher features)
    phones = [c.phones for c in good if c.phones is not None]
    teachers = [c.teacher for c in good if c.teacher is not None]
    count = max((t.shape[0] for t in teachers), default=0)
    padded = [torch.nn.functional.pad(t, (0, 0, 0, count - t.shape[0])) for t in teachers]
    return Batch(
        torch.stack([c.audio for c in good]),
        torch.tensor([c.length for c in good]),
        torch.stack(phones) if phones else None,
        torch.stack(padded) if padded else None,
        skipped,
    )


class StepSampler(torch.utils.data.Sampler):
    """Yields one batch of (index, crop seed) keys per step, a pure function of (seed, rank, step)."""

    def __init__(self, num_items: int, batch_size: int, seed: int, rank: int, start_step: int, max_steps: int) -> None:
        self.num_items, self.batch_size = num_items, batch_size
        self.seed, self.rank = seed, rank
        self.start_step, self.max_steps = start_step, max_steps

    def __iter__(self):
        for step in range(self.start_step, self.max_steps):
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.rank * 10_007 + step)
            indices = torch.randint(0, self.num_items, (self.batch_size,), generator=g).tolist()
            seeds = torch.randint(0, 2**31 - 1, (self.batch_size,), generator=g).tolist()
            yield list(zip(indices, seeds))

    def __len__(self) -> int:
        return max(0, self.max_steps - self.start_step)
