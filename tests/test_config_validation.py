"""config.json is validated field by field before anything is built: one-line errors naming file and field."""

from __future__ import annotations

import copy
import json
import re
import time
from pathlib import Path

import pytest

from codec.config import read_config
from codec.models.codec import Codec

SHIPPED_CONFIG = Path(__file__).resolve().parents[1] / "codec" / "pretrained" / "speechcodec-16k-50hz" / "config.json"


def shipped() -> dict:
    return json.loads(SHIPPED_CONFIG.read_text())


def with_value(dotted: str, value: object, **more: object) -> dict:
    """The shipped config with `dotted` (and `more`, '__' for '.') set."""
    data = copy.deepcopy(shipped())
    for name, new in [(dotted, value), *((k.replace("__", "."), v) for k, v in more.items())]:
        *parents, key = name.split(".")
        node = data
        for part in parents:
            node = node[part]
        node[key] = new
    return data


CASES = [
    (with_value("decoder.num_layers", 1_000_000), r"decoder\.num_layers: 1000000 is outside \[0, 128\]"),
    (with_value("encoder.num_layers", -1), r"encoder\.num_layers: -1 is outside"),
    (with_value("quantizer.num_codebooks", 1_000_000), r"quantizer\.num_codebooks: 1000000 is outside \[1, 64\]"),
    (with_value("quantizer.codebook_size", 20_000_000), r"quantizer\.codebook_size: 20000000 is outside"),
    (
        with_value("quantizer.codebook_dim", 256, quantizer__codebook_size=65536),
        r"quantizer: num_codebooks x codebook_size x codebook_dim = 134217728 exceeds 67108864",
    ),
    (with_value("decoder.dim", 10**9), r"decoder\.dim: 1000000000 is outside \[1, 8192\]"),
    (with_value("encoder.n_fft", 10**9), r"encoder\.n_fft: 1000000000 is outside"),
    (with_value("latent_dim", 0), r"latent_dim: 0 is outside"),
    (with_value("frame_size", 0), r"frame_size: 0 is outside \[1, 65536\]"),
    (with_value("frame_size", -320), r"frame_size: -320 is outside"),
    (with_value("sample_rate", -16000), r"sample_rate: -16000 is outside"),
    (with_value("sample_rate", 16000.5), r"sample_rate: expected int, got 16000.5"),
    (with_value("quantizer.ema_decay", "0.99"), r"quantizer\.ema_decay: expected a finite number, got '0.99'"),
    (with_value("quantizer.dropout_probability", 2.0), r"quantizer\.dropout_probability: 2.0 is outside \[0, 1\]"),
    (
        with_value("quantizer.commitment_weight", float("nan")),
        r"quantizer\.commitment_weight: expected a finite number",
    ),
    (with_value("causal", "yes"), r"causal: expected bool"),
    (with_value("encoder.kind", "mystery"), r"encoder\.kind: 'mystery' is not a known encoder kind"),
    (with_value("encoder.kind", ["frame"]), r"encoder\.kind: \['frame'\] is not a known encoder kind"),
    (with_value("decoder", [1, 2]), r"decoder: expected a mapping, got list"),
    (
        with_value("decoder.kind", "conv", encoder__strides=[4, 4, 4, 4]),  # mirrored into the conv decoder
        r"decoder\.strides \(4, 4, 4, 4\) = 256 must equal frame_size 320",
    ),
    (with_value("name", "x" * 500), r"name: expected 1 to 200 printable characters"),
    (with_value("format_version", "abc"), r"format_version must be a positive integer, got 'abc'"),
    (with_value("format_version", 99), r"checkpoint format 99 is newer than supported 1"),
    (with_value("format", "other"), r"format 'other' is not a codec checkpoint config"),
    ([1, 2, 3], r"expected a JSON object at the top level, got list"),
    (None, r"expected a JSON object at the top level, got NoneType"),
    (7, r"expected a JSON object at the top level, got int"),
]


@pytest.mark.parametrize("data,message", CASES, ids=[m[:40] for _, m in CASES])
def test_bad_config_json_names_the_file_and_field(tmp_path, data, message):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data))
    started = time.perf_counter()
    with pytest.raises(ValueError) as info:
        read_config(path)
    text = str(info.value)
    assert text.startswith(f"{path}: ") and "\n" not in text
    assert re.search(message, text), text
    assert time.perf_counter() - started < 1.0  # refused before building (or allocating) anything


def test_deeply_nested_and_huge_configs(tmp_path):
    path = tmp_path / "config.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ValueError, match=f"^{path}: JSON nested too deeply$"):
        read_config(path)
    path.write_text(json.dumps({"encoder": {"dim": {"a": {"b": {"c": 1}}}}}))
    with pytest.raises(ValueError, match=r"encoder\.dim: expected int"):
        read_config(path)
    path.write_text(" " * (2 << 20) + "{}")
    with pytest.raises(ValueError, match="too large for a config"):
        read_config(path)


def test_from_pretrained_refuses_before_loading_weights(tmp_path):
    directory = tmp_path / "ckpt"
    directory.mkdir()
    (directory / "config.json").write_text(json.dumps(with_value("quantizer.num_codebooks", 1_000_000)))
    (directory / "model.safetensors").write_bytes(b"not even read")
    with pytest.raises(ValueError, match=r"config.json: quantizer\.num_codebooks: 1000000 is outside"):
        Codec.from_pretrained(directory)


def test_the_shipped_config_passes():
    cfg = read_config(SHIPPED_CONFIG)
    assert cfg.quantizer.num_codebooks == 8 and cfg.frame_size == 320
