"""Perceptual scores: DNSMOS (no reference; `speechmos`) and speaker similarity (`resemblyzer` d-vectors).

GAN decoders that do not reproduce the original phase are under-rated by waveform-aligned metrics
(PESQ, SI-SDR); DNSMOS judges the output alone. Both packages carry their weights in their wheels
(nothing is downloaded) and are optional: `pip install 'speechcodec[eval]'`.
"""

from __future__ import annotations

import contextlib
import functools
import io
import warnings

import numpy as np
import torch

from codec.metrics.waveform import _check_not_silent, _import_eval, _resample

DNSMOS_SAMPLE_RATE = 16000


def dnsmos(audio: torch.Tensor | np.ndarray, sample_rate: int) -> float:
    """DNSMOS P.835 overall quality (OVRL, about 1-5) of mono audio [T]; no reference needed."""
    module = _import_eval("speechmos.dnsmos", "dnsmos")
    x = _resample(torch.as_tensor(audio, dtype=torch.float32).reshape(-1), sample_rate, DNSMOS_SAMPLE_RATE)
    _check_not_silent(x, "dnsmos input")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scores = module.run(x.clamp(-1.0, 1.0).numpy(), DNSMOS_SAMPLE_RATE)
    return float(scores["ovrl_mos"])


@functools.lru_cache(maxsize=1)
def _voice_encoder():
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        module = _import_eval("resemblyzer", "speaker_similarity")
        return module, module.VoiceEncoder("cpu", verbose=False)


def speaker_embedding(audio: torch.Tensor | np.ndarray, sample_rate: int) -> np.ndarray:
    """Unit-norm 256-d resemblyzer d-vector of mono audio [T]."""
    module, encoder = _voice_encoder()
    x = torch.as_tensor(audio, dtype=torch.float32).reshape(-1)
    _check_not_silent(x, "speaker embedding input")
    wav = module.preprocess_wav(x.numpy().astype(np.float32), source_sr=sample_rate)
    if len(wav) < 1600:  # resemblyzer trims silence; too little speech left to embed
        raise ValueError("speaker similarity needs at least 0.1 s of voiced audio")
    return encoder.embed_utterance(wav)


def speaker_similarity(ref: torch.Tensor | np.ndarray, est: torch.Tensor | np.ndarray, sample_rate: int) -> float:
    """Cosine similarity (-1..1, 1 = same voice) of the two signals' speaker embeddings."""
    a, b = speaker_embedding(ref, sample_rate), speaker_embedding(est, sample_rate)
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))
