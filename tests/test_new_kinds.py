"""The worked examples of docs/architecture.md: an `fsq` quantizer and a `mel` encoder, each one module plus a
registry line, trained by recipes/tiny.yaml, saved, loaded, streamed."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from codec.config import EncoderConfig, QuantizerConfig
from codec.models.codec import Codec
from codec.models.encoders.mel import MelEncoder
from codec.models.parts import ENCODERS, QUANTIZERS
from codec.quantization.fsq import FSQConfig, ResidualFSQuantizer
from codec.train.checkpoint import latest_checkpoint
from codec.train.config import load_train_config
from codec.train.loop import train
from tests.conftest import speechlike, tiny_config
from tests.test_train import tiny_overrides, write_corpus

ROOT = Path(__file__).resolve().parents[1]


def test_kinds_are_registered():
    assert QUANTIZERS["fsq"].module is ResidualFSQuantizer and ENCODERS["mel"].module is MelEncoder


def test_fsq_codes_are_int64_prefixes_with_derived_codebook_size():
    cfg = dataclasses.replace(tiny_config(), quantizer=QuantizerConfig("fsq", num_codebooks=3, levels=(7, 5, 5)))
    assert cfg.quantizer.codebook_size == 175 and cfg.bitrate == 3 * 8 * 50
    torch.manual_seed(0)
    model = Codec(cfg).eval()
    tokens = model.tokenize(speechlike(0.6), 16000)
    assert tokens.codes.dtype == torch.int64 and tokens.codes.shape == (1, 3, 30) and tokens.codebook_size == 175
    assert 0 <= int(tokens.codes.min()) and int(tokens.codes.max()) < 175
    for k in (1, 2):
        assert torch.equal(model.tokenize(speechlike(0.6), 16000, num_codebooks=k).codes, tokens.codes[:, :k])
    latent, _ = model.encode(speechlike(0.6)[None, None], torch.tensor([9600]))
    out = model.quantizer(latent)
    torch.testing.assert_close(model.quantizer.decode(out.codes), out.quantized)
    assert model.detokenize(tokens).shape == (1, 1, 9600)


@pytest.mark.parametrize("levels", [(2, 5), (5,) * 17, (256, 256, 2)])
def test_fsq_levels_are_validated(levels):
    with pytest.raises(ValueError, match="levels"):
        dataclasses.replace(tiny_config(), quantizer=FSQConfig(levels=levels, num_codebooks=2))


def test_mel_encoder_streams_like_offline():
    cfg = dataclasses.replace(
        tiny_config(causal=True), encoder=EncoderConfig("mel", dim=32, num_layers=1, n_fft=640, num_mels=40)
    )
    torch.manual_seed(0)
    model = Codec(cfg).eval()
    audio = speechlike(0.4)[None, None]
    offline = model.tokenize(audio[0], 16000).codes
    with model.streaming(1):
        chunks = [model.encode_chunk(audio[..., a:b]) for a, b in ((0, 960), (960, 3200), (3200, 6400))]
    assert torch.equal(torch.cat(chunks, dim=-1), offline)


@pytest.mark.parametrize(
    "extra",
    [
        ["model.quantizer.kind=fsq", "model.quantizer.levels=[5,5,5]"],
        ["model.encoder.kind=mel", "model.encoder.num_mels=40"],
    ],
    ids=["fsq", "mel"],
)
def test_new_kind_trains_with_the_tiny_recipe(tmp_path, extra):
    manifest = write_corpus(tmp_path / "data", count=2)
    cfg = load_train_config(ROOT / "recipes" / "tiny.yaml", tiny_overrides(tmp_path / "run", manifest, 2) + extra)
    result = train(cfg)
    assert result.step == 2 and torch.isfinite(torch.tensor(result.metrics["loss/total"]))
    assert "codebook/perplexity_0" in result.metrics and "loss/distill" in result.metrics
    model = Codec.from_pretrained(latest_checkpoint(tmp_path / "run"))
    assert model.cfg == cfg.model
    tokens = model.tokenize(speechlike(0.3), 16000)
    assert tokens.codes.shape == (1, 4, 15) and int(tokens.codes.max()) < model.codebook_size
