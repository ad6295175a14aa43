"""Run logging: TensorBoard scalars/audio/spectrograms and a JSONL metrics log, rank 0 only."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from torch.utils.tensorboard import SummaryWriter

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
    """Writes scalars to TensorBoard and `metrics.jsonl`; audio and spectrogram images at eval steps.

    `start_step` is the step the run (re)starts from: rows and events logged past it by an
    interrupted earlier attempt are dropped, so a resumed run never repeats a step.
    """

    def __init__(self, run_dir: Path, enabled: bool, start_step: int = 0) -> None:
        self.enabled = enabled
        self.writer: SummaryWriter | None = None
        if enabled:
            from torch.utils.tensorboard import SummaryWriter

            Path(run_dir).mkdir(parents=True, exist_ok=True)
            metrics = Path(run_dir) / "metrics.jsonl"
            drop_rows_after(metrics, start_step)
            self.writer = SummaryWriter(str(Path(run_dir) / "tensorboard"), purge_step=start_step + 1)
            self.jsonl = open(metrics, "a")

    def scalars(self, step: int, values: dict[str, float], split: str = "train") -> None:
        """Log scalars under `split/…` and append one JSON line."""
        if self.writer is None:
            return
        for key, value in values.items():
            self.writer.add_scalar(key if key.startswith(f"{split}/") else f"{split}/{key}", value, step)
        self.jsonl.write(json.dumps({"step": step, "split": split, **values}) + "\n")
        self.jsonl.flush()

    def audio(self, step: int, name: str, wav: torch.Tensor, sample_rate: int) -> None:
        """An audio clip [T] and its log-mel spectrogram image."""
        if self.writer is None:
            return
        wav = wav.detach().float().cpu().clamp(-1, 1)
        self.writer.add_audio(f"audio/{name}", wav[None], step, sample_rate=sample_rate)
        self.writer.add_image(f"spectrogram/{name}", spectrogram_image(wav, sample_rate), step, dataformats="HW")

    def close(self) -> None:
        """Flush and close files."""
        if self.writer is not None:
            self.writer.close()
            self.jsonl.close()


def drop_rows_after(path: Path, step: int) -> None:
    """Rewrite a metrics.jsonl without the rows past `step` (left by a run that stopped after its last checkpoint)."""
    from codec.io.files import atomic_write_bytes

    if not path.is_file():
        return
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in lines if _row_step(line) <= step]
    if len(kept) != len(lines):
        atomic_write_bytes(path, "".join(kept).encode())


def _row_step(line: str) -> float:
    try:
        return float(json.loads(line)["step"])
    except (ValueError, KeyError, TypeError):
        return float("inf")  # a torn last line from a killed run


def spectrogram_image(wav: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """Log-mel spectrogram scaled to [0, 1], low frequencies at the bottom, [H, W]."""
    import torchaudio

    mel = torchaudio.transforms.MelSpectrogram(sample_rate, n_fft=1024, hop_length=256, n_mels=80)(wav)
    image = torch.log10(mel.clamp(min=1e-5))
    image = (image - image.min()) / (image.max() - image.min()).clamp(min=1e-6)
    return image.flip(0)
