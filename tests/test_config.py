"""Config loading: YAML with one-level base, dotted overrides, unknown keys raise."""

from __future__ import annotations

import pytest

from codec.config import CodecConfig, from_dict, load_yaml, to_dict


def test_yaml_base_and_overrides(tmp_path):
    (tmp_path / "base.yaml").write_text("sample_rate: 24000\nquantizer:\n  num_codebooks: 4\n  codebook_size: 512\n")
    (tmp_path / "child.yaml").write_text("base: base.yaml\nquantizer:\n  num_codebooks: 6\n")
    data = load_yaml(tmp_path / "child.yaml", ["quantizer.codebook_size=256", "causal=true"])
    cfg = from_dict(CodecConfig, data)
    q = cfg.quantizer
    assert (cfg.sample_rate, q.num_codebooks, q.codebook_size, cfg.causal) == (24000, 6, 256, True)
    assert from_dict(CodecConfig, to_dict(cfg)) == cfg


def test_unknown_keys_and_bad_values_raise():
    with pytest.raises(ValueError, match=r"quantizer: unknown keys \['codebooks'\]"):
        from_dict(CodecConfig, {"quantizer": {"codebooks": 3}})
    with pytest.raises(ValueError, match="expected int"):
        from_dict(CodecConfig, {"frame_size": "320"})
    with pytest.raises(ValueError, match="num_semantic_codebooks"):
        from_dict(CodecConfig, {"quantizer": {"num_codebooks": 2, "num_semantic_codebooks": 3}})
    with pytest.raises(ValueError, match="strides"):
        from_dict(CodecConfig, {"encoder": {"kind": "conv", "strides": [2, 4]}})


def test_default_is_the_4kbps_speech_config():
    cfg = CodecConfig()
    q = cfg.quantizer
    assert (cfg.sample_rate, cfg.frame_rate, q.num_codebooks, q.codebook_size) == (16000, 50.0, 8, 1024)
    assert cfg.bitrate == 4000
