"""Run logging: TensorBoard scalars/audio/spectrograms and a JSONL metrics log, rank 0 only."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import torch

log = logging.getLogger("codec.train")


def setup_console(is_main: bool) -> None:
    """Readable console logs on rank 0, warnings only elsewhere."""
    logging.basicConfig(
        level=logging.INFO if is_main else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )


class RunLogger:
    """Writes scalars to TensorBoard and `metrics.jsonl`; audio and spectrogram images at eval steps."""

    def __init__(self, run_dir: Path, enabled: bool) -> None:
        self.enabled = enabled
        self.writer = None
        if enabled:
            from torch.utils.tensorboard import SummaryWriter

            Path(run_dir).mkdir(parents=True, exist_ok=True)
            self.writer = SummaryWriter(str(Path(run_dir) / "tensorboard"))
            self.jsonl = open(Path(run_dir) / "metrics.jsonl", "a")

    def scalars(self, step: int, values: dict[str, float], split: str = "train") -> None:
        """Log scalars under `split/…` and append one JSON line."""
        if not self.enabled:
            return
        for key, value in values.items():
            self.writer.add_scalar(f"{split}/{key}", value, step)
        self.jsonl.write(json.dumps({"step": step, "split": split, **values}) + "\n")
        self.jsonl.flush()

    def audio(self, step: int, name: str, wav: torch.Tensor, sample_rate: int) -> None:
        """An audio clip [T] and its log-mel spectrogram image."""
        if not self.enabled:
            return
        wav = wav.detach().float().cpu().clamp(-1, 1)
        self.writer.add_audio(f"audio/{name}", wav[None], step, sample_rate=sample_rate)
        self.writer.add_image(f"spectrogram/{name}", spectrogram_image(wav, sample_rate), step, dataformats="HW")

    def close(self) -> None:
        """Flush and close files."""
        if self.enabled:
            self.writer.close()
            self.jsonl.close()


def spectrogram_image(wav: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """Log-mel spectrogram scaled to [0, 1], low frequencies at the bottom, [H, W]."""
    import torchaudio

    mel = torchaudio.transforms.MelSpectrogram(sample_rate, n_fft=1024, hop_length=256, n_mels=80)(wav)
    image = torch.log10(mel.clamp(min=1e-5))
    image = (image - image.min()) / (image.max() - image.min()).clamp(min=1e-6)
    return image.flip(0)
