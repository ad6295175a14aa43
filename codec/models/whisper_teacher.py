"""Whisper encoder states as a semantic teacher, from a CTranslate2 (faster-whisper) model directory."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch

SAMPLE_RATE = 16000
N_FFT = 400
HOP = 160
WINDOW_SAMPLES = 30 * SAMPLE_RATE  # Whisper encodes fixed 30 s windows (3000 mel frames)
FRAME_SAMPLES = 320  # encoder states are at 50 Hz


@dataclass
class WhisperTeacherConfig:
    """`model_dir`: a CTranslate2 Whisper model directory as published for faster-whisper (model.bin, ...)."""

    kind: Literal["whisper"] = "whisper"
    model_dir: str = ""
    compute_type: str = "default"


class WhisperEncoderTeacher:
    """A frozen CTranslate2 Whisper encoder; mono audio -> encoder states [frames, d_model] at 50 Hz."""

    sample_rate = SAMPLE_RATE
    frame_rate = SAMPLE_RATE / FRAME_SAMPLES

    def __init__(
        self,
        model_dir: str | Path,
        device: str = "cpu",
        device_index: int = 0,
        compute_type: str = "default",
        batch_windows: int = 4,
    ) -> None:
        try:
            import ctranslate2
        except ImportError as err:
            raise ImportError("the Whisper teacher needs CTranslate2: pip install 'speechcodec[asr]'") from err
        model_dir = Path(model_dir)
        if not (model_dir / "model.bin").is_file():
            raise FileNotFoundError(f"{model_dir} is not a CTranslate2 Whisper model directory (no model.bin)")
        self._ct2 = ctranslate2
        self.model = ctranslate2.models.Whisper(
            str(model_dir), device=device, device_index=device_index, compute_type=compute_type
        )
        self.num_mels = whisper_num_mels(model_dir, self.model)
        self.batch_windows = batch_windows
        self.mel_filters = whisper_mel_filters(self.num_mels)
        self._dim: int | None = None

    @property
    def dim(self) -> int:
        """Encoder state width (d_model), found by encoding one silent window the first time it is asked."""
        if self._dim is None:
            self._dim = int(self(torch.zeros(FRAME_SAMPLES), SAMPLE_RATE).shape[-1])
        return self._dim

    @classmethod
    def from_config(cls, cfg: WhisperTeacherConfig, device: str = "cpu") -> WhisperEncoderTeacher:
        """The teacher `cfg` names, on torch-style `device` (cpu, cuda, cuda:N)."""
        if not cfg.model_dir:
            raise ValueError("teacher.model_dir must name a CTranslate2 Whisper model directory")
        kind, _, index = str(device).partition(":")
        return cls(cfg.model_dir, device=kind, device_index=int(index or 0), compute_type=cfg.compute_type)

    def features(self, audio: torch.Tensor, lengths: torch.Tensor, sample_rate: int) -> torch.Tensor:
        """Audio [B, 1, T] at `sample_rate` -> encoder states [B, F', d_model] (zeros past each item's frames)."""
        items = [self(audio[b, 0, : int(lengths[b])], sample_rate) for b in range(audio.shape[0])]
        out = torch.zeros(len(items), max(x.shape[0] for x in items), items[0].shape[-1])
        for b, item in enumerate(items):
            out[b, : item.shape[0]] = item
        return out.to(audio.device)

    def log_mel(self, wav: torch.Tensor) -> torch.Tensor:
        """16 kHz audio [T] -> Whisper's normalised log-mel [num_mels, T // 160] (T a multiple of 160)."""
        spec = torch.stft(wav, N_FFT, HOP, window=torch.hann_window(N_FFT), return_complex=True)
        power = spec[:, :-1].abs() ** 2
        mel = (self.mel_filters @ power).clamp(min=1e-10).log10()
        return (torch.maximum(mel, mel.max() - 8.0) + 4.0) / 4.0

    @torch.no_grad()
    def __call__(self, wav: torch.Tensor, sample_rate: int) -> torch.Tensor:
        """Mono audio [T] at `sample_rate` -> float32 encoder states [ceil(T16k / 320), d_model]."""
        import numpy as np
        import torchaudio

        wav = wav.reshape(-1).float().cpu()
        if sample_rate != SAMPLE_RATE:
            wav = torchaudio.functional.resample(wav, sample_rate, SAMPLE_RATE)
        frames = math.ceil(wav.numel() / FRAME_SAMPLES)
        windows = max(1, math.ceil(wav.numel() / WINDOW_SAMPLES))
        wav = torch.nn.functional.pad(wav, (0, windows * WINDOW_SAMPLES - wav.numel()))  # zeros, as Whisper pads
        mel = self.log_mel(wav).reshape(self.num_mels, windows, -1).permute(1, 0, 2).contiguous().numpy()
        states = []
        for start in range(0, windows, self.batch_windows):
            batch = self._ct2.StorageView.from_array(mel[start : start + self.batch_windows])
            encoded = np.array(self.model.encode(batch, to_cpu=True))  # [windows, 1500, d_model]
            states.append(encoded.reshape(-1, encoded.shape[-1]))
        return torch.from_numpy(np.concatenate(states)[:frames]).float()


def whisper_num_mels(model_dir: Path, model: object) -> int:
    """Mel bins the model expects: preprocessor_config.json `feature_size`, else the model's `n_mels`, else 80."""
    config = model_dir / "preprocessor_config.json"
    if config.is_file():
        return int(json.loads(config.read_text())["feature_size"])
    return int(getattr(model, "n_mels", 80))


def whisper_mel_filters(num_mels: int) -> torch.Tensor:
    """Whisper's Slaney-normalised mel filterbank [num_mels, N_FFT // 2 + 1] (librosa.filters.mel)."""
    import torchaudio

    fbanks = torchaudio.functional.melscale_fbanks(
        N_FFT // 2 + 1, 0.0, SAMPLE_RATE / 2, num_mels, SAMPLE_RATE, norm="slaney", mel_scale="slaney"
    )
    return fbanks.T.contiguous()
