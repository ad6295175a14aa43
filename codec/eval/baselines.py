"""Classic speech codecs to compare with: Opus (ffmpeg + libopus) and Codec2 (`c2enc`/`c2dec`).

Each baseline takes mono audio at any rate, resamples it to the codec's rate, runs the external
encoder and decoder through pipes, resamples back, compensates the codec delay by
cross-correlation within +-50 ms and trims to the original length. Missing tools are reported as
notes by `available_baselines`, never as crashes.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from codec.io.audio import resample

MAX_DELAY_MS = 50.0
OPUS_RATES = (8000, 12000, 16000, 24000, 48000)
CODEC2_RATE = 8000
OPUS_KBPS = (6, 8, 12)
CODEC2_BPS = (1200, 2400, 3200)
FAMILIES = ("opus", "codec2")
TOOLS = {"opus": ("ffmpeg",), "codec2": ("c2enc", "c2dec")}
TOOL_PACKAGES = {"opus": "ffmpeg (with libopus)", "codec2": "codec2"}


@dataclass(frozen=True)
class Baseline:
    """One classic codec at one bitrate."""

    family: str
    bitrate_bps: int

    @property
    def name(self) -> str:
        """Display name, e.g. `opus-6k` or `codec2-3200`."""
        if self.family == "opus":
            return f"opus-{self.bitrate_bps // 1000}k"
        return f"{self.family}-{self.bitrate_bps}"

    @property
    def kbps(self) -> float:
        """Nominal bitrate in kbit/s."""
        return self.bitrate_bps / 1000.0


@dataclass(frozen=True)
class BaselineSelection:
    """Baselines that can run here, and one note per requested family that cannot."""

    baselines: tuple[Baseline, ...]
    notes: tuple[str, ...]


def parse_baseline_names(spec: str) -> tuple[str, ...]:
    """`opus,codec2` / `none` / `` -> family names; unknown names raise ValueError."""
    names = tuple(s.strip().lower() for s in spec.split(",") if s.strip())
    if names in ((), ("none",)):
        return ()
    unknown = [n for n in names if n not in FAMILIES]
    if unknown:
        raise ValueError(f"unknown baselines {unknown}; choose from {list(FAMILIES)} or 'none'")
    return names


def missing_tools(family: str) -> list[str]:
    """External programs that `family` needs and that are not on PATH."""
    missing = [tool for tool in TOOLS[family] if shutil.which(tool) is None]
    if family == "opus" and not missing and not _ffmpeg_has_libopus():
        missing.append("ffmpeg libopus encoder")
    return missing


def available_baselines(families: Sequence[str] = FAMILIES) -> BaselineSelection:
    """All bitrates of the requested families whose tools are installed (notes for the others)."""
    chosen: list[Baseline] = []
    notes: list[str] = []
    for family in families:
        missing = missing_tools(family)
        if missing:
            notes.append(f"{family} skipped: {', '.join(missing)} not found (apt-get install {TOOL_PACKAGES[family]})")
            continue
        rates = [k * 1000 for k in OPUS_KBPS] if family == "opus" else list(CODEC2_BPS)
        chosen.extend(Baseline(family, bps) for bps in rates)
    return BaselineSelection(tuple(chosen), tuple(notes))


def codec_rate(baseline: Baseline, sample_rate: int) -> int:
    """Sample rate the external codec runs at for input at `sample_rate`."""
    if baseline.family == "codec2":
        return CODEC2_RATE
    return next((r for r in OPUS_RATES if r >= sample_rate), OPUS_RATES[-1])


def run_baseline(baseline: Baseline, wav: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """Encode + decode mono audio [T] -> [T] at `sample_rate`, delay-compensated and length-matched."""
    wav = torch.as_tensor(wav, dtype=torch.float32).reshape(-1)
    rate = codec_rate(baseline, sample_rate)
    inner = resample(wav[None], sample_rate, rate)[0].clamp(-1.0, 1.0)
    if baseline.family == "opus":
        decoded = _opus_roundtrip(inner.numpy(), rate, baseline.bitrate_bps)
    else:
        decoded = _codec2_roundtrip(inner.numpy(), baseline.bitrate_bps)
    out = resample(torch.from_numpy(decoded)[None], rate, sample_rate)[0]
    return align_to_reference(wav, out, sample_rate)


def estimate_delay(ref: torch.Tensor, est: torch.Tensor, max_shift: int) -> int:
    """Lag d in [-max_shift, max_shift] maximising sum_t ref[t] * est[t + d] (est late by d samples)."""
    n = ref.numel() + est.numel()
    size = 1 << (n - 1).bit_length()
    spec = torch.fft.rfft(est.double(), size) * torch.fft.rfft(ref.double(), size).conj()
    corr = torch.fft.irfft(spec, size)
    lags = torch.arange(-max_shift, max_shift + 1)
    values = corr[lags % size]
    return int(lags[int(torch.argmax(values))])


def align_to_reference(
    ref: torch.Tensor, est: torch.Tensor, sample_rate: int, max_delay_ms: float = MAX_DELAY_MS
) -> torch.Tensor:
    """Shift `est` by its cross-correlation delay (|d| <= max_delay_ms) and trim/pad to len(ref)."""
    max_shift = round(max_delay_ms * sample_rate / 1000.0)
    delay = estimate_delay(ref, est, max_shift)
    shifted = est[delay:] if delay >= 0 else torch.cat([est.new_zeros(-delay), est])
    out = ref.new_zeros(ref.numel())
    n = min(ref.numel(), shifted.numel())
    out[:n] = shifted[:n]
    return out


def _run(command: list[str], data: bytes) -> bytes:
    """Run a command with `data` on stdin; its stdout, or RuntimeError with its stderr."""
    done = subprocess.run(command, input=data, capture_output=True, check=False)
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-3:]
        raise RuntimeError(f"{command[0]} failed ({done.returncode}): {' | '.join(tail)}")
    return done.stdout


def _opus_roundtrip(samples: np.ndarray, rate: int, bitrate_bps: int) -> np.ndarray:
    """float32 mono at `rate` -> Ogg/Opus (libopus, VoIP mode) -> float32 mono at `rate`."""
    pcm = ["-f", "f32le", "-ar", str(rate), "-ac", "1"]
    encoded = _run(
        [
            "ffmpeg",
            "-nostdin",
            "-v",
            "error",
            *pcm,
            "-i",
            "pipe:0",
            "-c:a",
            "libopus",
            "-b:a",
            str(bitrate_bps),
            "-application",
            "voip",
            "-f",
            "ogg",
            "pipe:1",
        ],
        samples.astype("<f4").tobytes(),
    )
    decoded = _run(["ffmpeg", "-nostdin", "-v", "error", "-i", "pipe:0", *pcm, "pipe:1"], encoded)
    return np.frombuffer(decoded, dtype="<f4").copy()


def _codec2_roundtrip(samples: np.ndarray, bitrate_bps: int) -> np.ndarray:
    """float32 mono at 8 kHz -> 16-bit raw -> c2enc MODE | c2dec MODE -> float32 mono at 8 kHz."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).round().astype("<i2").tobytes()
    bits = _run(["c2enc", str(bitrate_bps), "-", "-"], pcm)
    decoded = _run(["c2dec", str(bitrate_bps), "-", "-"], bits)
    return np.frombuffer(decoded, dtype="<i2").astype(np.float32) / 32768.0


def _ffmpeg_has_libopus() -> bool:
    """Whether `ffmpeg -encoders` lists libopus."""
    try:
        done = subprocess.run(["ffmpeg", "-hide_banner", "-encoders"], capture_output=True, check=False, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return b"libopus" in done.stdout


__all__ = [
    "Baseline",
    "BaselineSelection",
    "align_to_reference",
    "available_baselines",
    "estimate_delay",
    "parse_baseline_names",
    "run_baseline",
]
