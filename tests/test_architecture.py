"""Parts behind interfaces: registries, injection, legacy configs, one lookahead, quantizer statistics."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from codec.config import CodecConfig, DecoderConfig, EncoderConfig, QuantizerConfig, from_dict, read_config, to_dict
from codec.models.codec import Codec
from codec.models.decoders import ConvDecoder, ConvDecoderConfig, VocoderDecoder
from codec.models.encoders import FrameEncoder
from codec.models.interfaces import Decoder, Encoder, Quantizer
from codec.models.parts import DECODERS, ENCODERS, QUANTIZERS
from codec.models.teachers import TEACHERS, ModelTeacher, TeacherConfig, build_teacher
from codec.runtime.streaming import algorithmic_latency
from codec.train.config import load_train_config
from tests.conftest import make_model, speechlike, tiny_config

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_CONFIG = ROOT / "codec" / "pretrained" / "speechcodec-16k-50hz" / "config.json"


def test_every_registered_part_meets_its_interface():
    for kind in ENCODERS:
        model = Codec(tiny_config(encoder=kind, decoder="conv"))
        assert isinstance(model.encoder, Encoder) and model.encoder.cfg.kind == kind
    for kind in DECODERS:
        model = Codec(tiny_config(decoder=kind))
        assert isinstance(model.decoder, Decoder) and model.decoder.cfg.kind == kind
    assert all(isinstance(make_model().quantizer, Quantizer) for _ in QUANTIZERS)


def test_shipped_config_and_every_recipe_load_unchanged():
    cfg = read_config(SHIPPED_CONFIG)  # written with the old flat part configs
    assert (cfg.encoder.kind, cfg.decoder.kind, cfg.quantizer.kind) == ("frame", "vocoder", "rvq")
    assert not hasattr(cfg.encoder, "strides") and cfg.decoder.n_fft == 1280
    assert from_dict(CodecConfig, to_dict(cfg)) == cfg
    lowrate = load_train_config(ROOT / "recipes" / "speech16k_lowrate.yaml").model
    # the conv decoder mirrors the old encoder.strides
    assert lowrate.encoder.kind == "frame" and lowrate.decoder.strides == (8, 8, 5, 4)


def test_conv_decoder_uses_its_own_strides_not_the_encoders():
    cfg = dataclasses.replace(
        tiny_config(encoder="conv", decoder="conv"), decoder=DecoderConfig("conv", channels=32, strides=(4, 4, 4, 5))
    )
    model = Codec(cfg)
    assert model.encoder.cfg.strides == (2, 4, 5, 8) and model.decoder.strides == (4, 4, 4, 5)
    assert model.decode(torch.zeros(1, 16, 3), torch.tensor([3])).shape == (1, 1, 960)
    with pytest.raises(ValueError, match=r"decoder.strides .* must equal frame_size 320"):
        dataclasses.replace(cfg, decoder=DecoderConfig("conv", strides=(4, 4)))


def test_legacy_flat_constructors_and_unknown_kinds():
    assert EncoderConfig("conv", dim=7, channels=4).channels == 4  # `dim` belonged to the frame encoder: ignored
    assert QuantizerConfig(num_codebooks=2).kind == "rvq"
    with pytest.raises(TypeError):
        EncoderConfig("frame", no_such_field=1)
    with pytest.raises(ValueError, match=r"encoder.kind: 'mystery' is not a known encoder kind"):
        from_dict(CodecConfig, {"encoder": {"kind": "mystery"}})
    with pytest.raises(ValueError, match=r"decoder: unknown keys \['bogus'\]"):
        from_dict(CodecConfig, {"decoder": {"kind": "conv", "bogus": 1}})


def test_injected_parts_must_match_the_config(tmp_path):
    cfg = tiny_config()
    torch.manual_seed(0)
    encoder = FrameEncoder(cfg.encoder, cfg.shape)
    model = Codec(cfg, encoder=encoder)
    assert model.encoder is encoder
    model.save_pretrained(tmp_path / "m")
    assert Codec.from_pretrained(tmp_path / "m").encoder.cfg == cfg.encoder
    joined = Codec.from_parts(encoder, model.quantizer, model.decoder, name=cfg.name)
    assert joined.cfg == cfg and joined.encoder is encoder
    other = dataclasses.replace(cfg.encoder, dim=16)
    with pytest.raises(ValueError, match="injected encoder's config differs"):
        Codec(cfg, encoder=FrameEncoder(other, cfg.shape))
    with pytest.raises(ValueError, match="injected decoder was built for"):
        Codec(cfg, decoder=VocoderDecoder(cfg.decoder, dataclasses.replace(cfg.shape, latent_dim=8)))


def test_lookahead_has_one_source():
    for decoder in ("vocoder", "conv"):
        model = make_model(decoder=decoder, causal=True)
        assert model.decoder.lookahead == model.cfg.decoder.lookahead(model.cfg.shape)
        assert algorithmic_latency(model.cfg).lookahead_samples == model.decoder.lookahead
    assert make_model(causal=True).decoder.lookahead == 640 - 320


def test_quantizer_exposes_its_statistics():
    model = make_model()
    tokens = model.tokenize(speechlike(0.5), 16000)
    stats = model.quantizer.codebook_stats(tokens.codes, tokens.lengths)
    for k in range(model.num_codebooks):
        assert 1.0 <= stats[f"perplexity_{k}"] <= 64 and 0 < stats[f"used_{k}"] <= 1
        assert 0 <= stats[f"dead_{k}"] <= 64
    constant = torch.zeros_like(tokens.codes)
    assert model.quantizer.codebook_stats(constant, tokens.lengths)["perplexity_0"] == 1.0


def test_teachers_come_from_one_registry():
    assert set(TEACHERS) == {"none", "phones", "precomputed", "torchaudio", "whisper"}
    assert build_teacher(TeacherConfig()).head(16) is None
    old_style = TeacherConfig("precomputed", model="hubert_base", suffix="hub", dim=12)  # flat keys of other kinds
    teacher = build_teacher(old_style)
    assert teacher.feature_suffix == "hub" and teacher.head(16).proj.out_features == 12
    model = build_teacher(TeacherConfig("torchaudio", model="hubert_base", layer=1, random_init=True))
    assert isinstance(model, ModelTeacher) and model.head_name == "distill"
    with pytest.raises(ValueError, match="no row has an alignment"):
        build_teacher(TeacherConfig("phones"))


def test_config_json_written_today_round_trips(tmp_path):
    model = make_model(encoder="conv", decoder="conv")
    model.save_pretrained(tmp_path / "m")
    data = json.loads((tmp_path / "m" / "config.json").read_text())
    assert data["decoder"]["strides"] == [8, 5, 4, 2] and "dim" not in data["decoder"]
    assert isinstance(Codec.from_pretrained(tmp_path / "m").decoder, ConvDecoder)
    assert ConvDecoderConfig().strides == (8, 5, 4, 2)
