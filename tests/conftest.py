"""Shared fixtures: tiny random-weight codec configs and models (CPU, seconds)."""

from __future__ import annotations

import pytest
import torch

from codec.config import CodecConfig, DecoderConfig, EncoderConfig, QuantizerConfig
from codec.models.codec import Codec

torch.set_num_threads(1)  # tiny tensors: extra threads only add spin-wait overhead


def tiny_config(encoder: str = "frame", decoder: str = "vocoder", causal: bool = False) -> CodecConfig:
    """A few-thousand-parameter codec: 16 kHz, 50 Hz frames, 4 x 64 codebooks."""
    return CodecConfig(
        name=f"tiny-{encoder}-{decoder}{'-causal' if causal else ''}",
        sample_rate=16000,
        frame_size=320,
        latent_dim=16,
        causal=causal,
        encoder=EncoderConfig(
            kind=encoder, dim=32, num_layers=1, n_fft=640, channels=4, strides=(2, 4, 5, 8), residual_dilations=(1, 3)
        ),
        quantizer=QuantizerConfig(
            num_codebooks=4, codebook_size=64, codebook_dim=4, num_semantic_codebooks=1, kmeans_init=False
        ),
        decoder=DecoderConfig(
            kind=decoder, dim=32, intermediate_dim=64, num_layers=1, n_fft=640, channels=32, residual_dilations=(1, 3)
        ),
    )


def make_model(**kwargs) -> Codec:
    """A tiny codec with seeded random weights, in eval mode."""
    torch.manual_seed(0)
    return Codec(tiny_config(**kwargs)).eval()


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory):
    """Caches (e.g. the CLI's automatic ONNX exports) go to a temporary directory, not ~/.cache."""
    patch = pytest.MonkeyPatch()
    patch.setenv("CODEC_CACHE", str(tmp_path_factory.mktemp("codec-cache")))
    yield
    patch.undo()


@pytest.fixture(scope="session")
def tiny_model() -> Codec:
    return make_model()


def speechlike(seconds: float, sample_rate: int = 16000, seed: int = 0) -> torch.Tensor:
    """A deterministic harmonic signal with moving pitch and syllable-rate amplitude, [T]."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(int(seconds * sample_rate)) / sample_rate
    f0 = 110 + 40 * torch.sin(2 * torch.pi * 0.7 * t + float(torch.rand(1, generator=g)) * 6)
    phase = 2 * torch.pi * torch.cumsum(f0, 0) / sample_rate
    wav = sum(torch.sin(k * phase) / k for k in range(1, 12))
    envelope = 0.5 + 0.5 * torch.sin(2 * torch.pi * 4 * t).clamp(min=0)
    return (0.2 * wav * envelope + 0.01 * torch.randn(len(t), generator=g)).float()
