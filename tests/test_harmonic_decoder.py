"""The `harmonic` decoder kind (iSTFT head + f0-driven harmonic branch) and the YIN pitch targets it trains on."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
import torch

from codec.config import DecoderConfig
from codec.losses.pitch import f0_loss, yin_f0
from codec.models.codec import Codec
from codec.train.checkpoint import latest_checkpoint, load_modules
from codec.train.config import load_train_config
from codec.train.loop import train
from tests.conftest import speechlike, tiny_config
from tests.test_train import tiny_overrides, write_corpus

ROOT = Path(__file__).resolve().parents[1]
SR = 16000


def glide(seconds: float = 1.0, start: float = 120.0, end: float = 200.0) -> tuple[torch.Tensor, torch.Tensor]:
    """A harmonic-rich tone gliding from `start` to `end` Hz, and its f0 per sample."""
    t = torch.arange(int(seconds * SR), dtype=torch.float64) / SR
    f0 = start + (end - start) * t / seconds
    phase = 2 * math.pi * torch.cumsum(f0 / SR, 0)
    wave = sum(torch.sin(k * phase) / k for k in range(1, 25))
    return (0.1 * wave).float(), f0.float()


def harmonic_config(causal: bool = False):
    base = tiny_config(causal=causal)
    decoder = DecoderConfig("harmonic", dim=32, intermediate_dim=64, num_layers=1, n_fft=640, num_harmonics=16)
    return dataclasses.replace(base, name=base.name.replace("vocoder", "harmonic"), decoder=decoder)


def test_yin_tracks_a_glide_and_leaves_noise_and_silence_unvoiced():
    tone, truth = glide()
    audio = torch.stack([tone, 0.1 * torch.randn(SR), torch.zeros(SR)])
    f0, voiced = yin_f0(audio, SR, 320)
    assert f0.shape == voiced.shape == (3, 50)
    centres = truth[(torch.arange(50) * 320 + 160).clamp(max=SR - 1)]
    inner = slice(2, 48)  # the first and last windows reach past the audio
    assert bool(voiced[0, inner].all())
    assert float(((f0[0, inner] - centres[inner]).abs() / centres[inner]).max()) < 0.02
    assert voiced[1].float().mean() < 0.1 and not bool(voiced[2].any()) and not bool(f0[2].any())


def test_f0_loss_is_octaves_on_voiced_valid_frames():
    target = torch.tensor([[100.0, 200.0, 0.0, 100.0]])
    voiced = torch.tensor([[True, True, False, True]])
    predicted = torch.tensor([[200.0, 200.0, 50.0, 400.0]], requires_grad=True)
    assert f0_loss(predicted, target, voiced).item() == pytest.approx((1 + 0 + 2) / 3)
    assert f0_loss(predicted, target, voiced, torch.tensor([2])).item() == pytest.approx(0.5)
    none = f0_loss(predicted, target, torch.zeros_like(voiced))
    none.backward()
    assert none.item() == 0.0 and predicted.grad is not None


def test_a_vocoder_checkpoint_loads_with_a_fresh_branch_and_sounds_the_same(tmp_path):
    torch.manual_seed(0)
    vocoder = Codec(tiny_config()).eval()
    vocoder.save_pretrained(tmp_path / "voc")
    model = Codec(harmonic_config()).eval()
    with pytest.raises(ValueError, match="weights do not match"):
        load_modules(tmp_path / "voc", model)
    with pytest.raises(ValueError, match="name no parameters"):
        load_modules(tmp_path / "voc", model, fresh=("decoder.nothing",))
    load_modules(tmp_path / "voc", model, fresh=("decoder.harmonic",))
    tokens = vocoder.tokenize(speechlike(0.5), SR)
    assert torch.equal(model.tokenize(speechlike(0.5), SR).codes, tokens.codes)
    torch.testing.assert_close(model.detokenize(tokens.codes, tokens.lengths), vocoder.detokenize(tokens))


def test_the_branch_makes_harmonics_of_its_f0():
    torch.manual_seed(0)
    model = Codec(harmonic_config()).eval()
    branch = model.decoder.harmonic
    with torch.no_grad():
        branch.f0.weight.zero_()
        branch.f0.bias.fill_(0.0)  # sigmoid(0) = 0.5: the geometric mean of f0_min and f0_max
        branch.amplitudes.weight.zero_()
        branch.amplitudes.bias.copy_(torch.tensor([0.1] + [0.0] * 15))
        audio, f0 = branch(torch.zeros(1, 32, 25))
    expected = math.sqrt(50.0 * 600.0)
    assert torch.allclose(f0, torch.full_like(f0, expected))
    spectrum = torch.fft.rfft(audio[0, 0, 1600:])  # 0.4 s: 2.5 Hz bins
    peak_hz = float(spectrum.abs().argmax()) * SR / audio[0, 0, 1600:].numel()
    assert abs(peak_hz - expected) < 5.0


def test_causal_harmonic_decoder_streams_like_offline():
    torch.manual_seed(0)
    model = Codec(harmonic_config(causal=True)).eval()
    with torch.no_grad():
        torch.nn.init.normal_(model.decoder.harmonic.amplitudes.weight, std=0.05)
        torch.nn.init.normal_(model.decoder.harmonic.amplitudes.bias, std=0.05)
    tokens = model.tokenize(speechlike(0.6), SR)
    offline = model.detokenize(tokens)
    lookahead = model.decoder.lookahead
    with model.streaming(1):
        pieces = [model.decode_chunk(tokens.codes[..., a:b]) for a, b in ((0, 4), (4, 5), (5, 30))]
        pieces.append(model.flush())
    streamed = torch.cat(pieces, -1)[..., lookahead : lookahead + offline.shape[-1]]
    torch.testing.assert_close(streamed, offline, atol=2e-4, rtol=1e-3)


def test_harmonic_decoder_trains_with_the_tiny_recipe_and_logs_f0(tmp_path):
    manifest = write_corpus(tmp_path / "data", count=2)
    extra = ["model.decoder.kind=harmonic", "model.decoder.num_harmonics=16"]
    cfg = load_train_config(ROOT / "recipes" / "tiny.yaml", tiny_overrides(tmp_path / "run", manifest, 2) + extra)
    result = train(cfg)
    assert result.step == 2 and "loss/f0" in result.metrics
    assert math.isfinite(result.metrics["loss/f0"]) and math.isfinite(result.metrics["loss/total"])
    model = Codec.from_pretrained(latest_checkpoint(tmp_path / "run"))
    assert model.cfg == cfg.model and model.detokenize(model.tokenize(speechlike(0.3), SR)).shape == (1, 1, 4800)


def test_f0_learns_from_its_own_loss_only():
    """Reconstruction gradients stop at f0 (through the running phase they are chaotic); loss/f0 trains it."""
    torch.manual_seed(0)
    decoder = Codec(harmonic_config()).decoder.train()
    torch.nn.init.normal_(decoder.harmonic.amplitudes.weight, std=0.05)
    tone, _ = glide(0.4)
    latent = torch.randn(1, 16, 20)
    decoder(latent).square().sum().backward()
    assert decoder.harmonic.f0.weight.grad is None and decoder.harmonic.amplitudes.weight.grad is not None
    decoder.zero_grad()
    decoder(latent)
    loss = decoder.training_losses(tone[None, None], torch.tensor([tone.numel()]))["loss/f0"]
    loss.backward()
    assert loss.item() > 0 and float(decoder.harmonic.f0.weight.grad.abs().sum()) > 0
