"""Streaming == offline for causal models: identical codes, audio equal after the documented delay."""

from __future__ import annotations

import pytest
import torch

from codec.config import CodecConfig
from codec.runtime.streaming import algorithmic_latency
from tests.conftest import make_model, speechlike

CAUSAL = [
    dict(encoder="frame", decoder="vocoder", causal=True),
    dict(encoder="conv", decoder="conv", causal=True),
]


def _stream(model, audio: torch.Tensor, chunk_frames: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Encode then decode `audio` [B, 1, F*hop] chunk by chunk; returns (codes, audio incl. flush)."""
    hop, codes, out, pos = model.frame_size, [], [], 0
    for n in chunk_frames:
        c = model.encode_chunk(audio[..., pos * hop : (pos + n) * hop])
        assert c.shape == (audio.shape[0], model.num_codebooks, n)
        y = model.decode_chunk(c)
        assert y.shape == (audio.shape[0], 1, n * hop)
        codes.append(c)
        out.append(y)
        pos += n
    out.append(model.flush())
    return torch.cat(codes, -1), torch.cat(out, -1)


def _random_chunks(total: int, seed: int) -> list[int]:
    g = torch.Generator().manual_seed(seed)
    chunks = []
    while sum(chunks) < total:
        chunks.append(min(int(torch.randint(1, 9, (1,), generator=g)), total - sum(chunks)))
    return chunks


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("arch", CAUSAL, ids=lambda a: f"{a['encoder']}-{a['decoder']}")
def test_streaming_equals_offline(arch, batch):
    model = make_model(**arch)
    frames = 40
    audio = torch.stack([speechlike(frames * 0.02, seed=i) for i in range(batch)])[:, None]
    offline_tokens = model.tokenize(audio, 16000)
    offline = model.detokenize(offline_tokens)
    delay = algorithmic_latency(model.cfg).lookahead_samples
    assert delay == model.decoder.lookahead
    with model.streaming(batch):
        codes, streamed = _stream(model, audio, _random_chunks(frames, seed=batch))
        assert torch.equal(codes, offline_tokens.codes)
        assert streamed.shape[-1] == frames * 320 + delay
        assert not streamed[..., :delay].any(), "the first `lookahead` samples are silence"
        torch.testing.assert_close(streamed[..., delay:], offline, atol=1e-5, rtol=0)
        model.reset_streaming()
        codes_again, again = _stream(model, audio, _random_chunks(frames, seed=7))
    assert torch.equal(codes_again, codes)
    torch.testing.assert_close(again, streamed, atol=1e-5, rtol=0)


def test_reset_restores_the_initial_state():
    model = make_model(**CAUSAL[0])
    audio = speechlike(0.4)[None, None]
    with model.streaming(1):
        first = _stream(model, audio, [5, 15])
        # leaves state behind (flush resets the decoder only)
        _stream(model, speechlike(0.3, seed=4)[None, None], [3, 12])
        model.encode_chunk(speechlike(0.1, seed=5)[None, None])
        model.reset_streaming()
        second = _stream(model, audio, [5, 15])
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])


def test_chunks_must_hold_whole_frames():
    model = make_model(**CAUSAL[0])
    with model.streaming(2):
        with pytest.raises(ValueError, match=r"multiple of frame_size 320.*buffer"):
            model.encode_chunk(torch.zeros(2, 1, 500))
        with pytest.raises(ValueError, match=r"\[2, 1, T\]"):
            model.encode_chunk(torch.zeros(1, 1, 320))
        assert model.encode_chunk(torch.zeros(2, 1, 0)).shape == (2, 4, 0)


def test_streaming_needs_a_causal_model_and_an_open_session():
    with pytest.raises(ValueError, match="not causal"):
        make_model(causal=False).streaming(1)
    model = make_model(**CAUSAL[0])
    with pytest.raises(ValueError, match="not streaming"):
        model.encode_chunk(torch.zeros(1, 1, 320))
    with model.streaming(1):
        with pytest.raises(ValueError, match="already streaming"):
            model.streaming(1).__enter__()
    keys = set(model.state_dict())
    assert all(m.streaming_state is None for m in model.modules() if hasattr(m, "streaming_state"))
    assert keys == set(make_model(**CAUSAL[0]).state_dict())


def test_algorithmic_latency():
    default = algorithmic_latency(CodecConfig(causal=True))
    assert (default.frame_samples, default.lookahead_samples, default.total_samples) == (320, 960, 1280)
    assert (default.frame_ms, default.lookahead_ms, default.total_ms) == (20.0, 60.0, 80.0)
    conv = algorithmic_latency(make_model(**CAUSAL[1]).cfg)
    assert conv.total_ms == 20.0 and conv.lookahead_samples == 0
    offline = algorithmic_latency(CodecConfig())
    assert not offline.streamable and offline.total_samples is None and "non-causal" in offline.describe()
