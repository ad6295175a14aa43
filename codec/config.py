"""Typed configuration: dataclasses loaded from YAML with one-level `base:` and dotted overrides."""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")


@dataclass
class EncoderConfig:
    """Audio -> latent frames. `frame`: STFT + ConvNeXt at the frame rate; `conv`: strided time-domain convs."""

    kind: str = "frame"
    dim: int = 384
    num_layers: int = 6
    n_fft: int = 1280
    channels: int = 32
    strides: tuple[int, ...] = (2, 4, 5, 8)
    residual_dilations: tuple[int, ...] = (1, 3, 9)
    activation: str = "snake"


@dataclass
class QuantizerConfig:
    """Residual VQ: `num_codebooks` levels, the first `num_semantic_codebooks` distilled toward a teacher."""

    num_codebooks: int = 8
    codebook_size: int = 1024
    codebook_dim: int = 8
    num_semantic_codebooks: int = 1
    ema_decay: float = 0.99
    kmeans_init: bool = True
    threshold_ema_dead_code: float = 0.05  # EMA uses per step; keep well below frames_per_batch / codebook_size
    commitment_weight: float = 1.0
    dropout_probability: float = 0.5


@dataclass
class DecoderConfig:
    """Latent frames -> audio. `vocoder`: ConvNeXt + inverse-STFT head; `conv`: transposed convs mirroring the encoder."""

    kind: str = "vocoder"
    dim: int = 384
    intermediate_dim: int = 1152
    num_layers: int = 8
    n_fft: int = 1280
    channels: int = 512
    residual_dilations: tuple[int, ...] = (1, 3, 9)
    activation: str = "snake"


@dataclass
class CodecConfig:
    """A whole codec; the defaults are the 16 kHz, 50 Hz, 8 x 1024 (4 kbps) speech config."""

    name: str = "speechcodec-16k-50hz"
    sample_rate: int = 16000
    frame_size: int = 320
    latent_dim: int = 256
    causal: bool = False
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    quantizer: QuantizerConfig = field(default_factory=QuantizerConfig)
    decoder: DecoderConfig = field(default_factory=DecoderConfig)

    def __post_init__(self) -> None:
        validate_codec_config(self)

    @property
    def frame_rate(self) -> float:
        """Token frames per second."""
        return self.sample_rate / self.frame_size

    @property
    def bitrate(self) -> float:
        """Nominal bits per second with all codebooks."""
        bits = (self.quantizer.codebook_size - 1).bit_length()
        return self.quantizer.num_codebooks * bits * self.frame_rate


def validate_codec_config(cfg: CodecConfig) -> None:
    """Raise ValueError when the parts of `cfg` do not fit together."""
    q = cfg.quantizer
    if not 1 <= q.num_semantic_codebooks <= q.num_codebooks:
        raise ValueError(f"num_semantic_codebooks must be in [1, {q.num_codebooks}], got {q.num_semantic_codebooks}")
    if cfg.encoder.kind not in ("frame", "conv"):
        raise ValueError(f"encoder.kind must be 'frame' or 'conv', got {cfg.encoder.kind!r}")
    if cfg.decoder.kind not in ("vocoder", "conv"):
        raise ValueError(f"decoder.kind must be 'vocoder' or 'conv', got {cfg.decoder.kind!r}")
    hop_product = 1
    for s in cfg.encoder.strides:
        hop_product *= s
    if "conv" in (cfg.encoder.kind, cfg.decoder.kind) and hop_product != cfg.frame_size:
        raise ValueError(f"product of encoder.strides {cfg.encoder.strides} = {hop_product} must equal frame_size {cfg.frame_size}")
    for part in (cfg.encoder, cfg.decoder):
        if getattr(part, "kind") in ("frame", "vocoder") and (part.n_fft < cfg.frame_size or (part.n_fft - cfg.frame_size) % 2):
            raise ValueError(f"n_fft {part.n_fft} must be >= frame_size {cfg.frame_size} and differ from it by an even number")


def from_dict(cls: type[T], data: dict[str, Any], where: str = "") -> T:
    """Build dataclass `cls` from a nested dict; unknown keys raise ValueError naming them."""
    if not isinstance(data, dict):
        raise ValueError(f"{where or cls.__name__}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"{where or cls.__name__}: unknown keys {unknown}; allowed: {sorted(names)}")
    kwargs = {}
    for key, value in data.items():
        kwargs[key] = _coerce(hints[key], value, f"{where}.{key}" if where else key)
    return cls(**kwargs)


def _coerce(hint: Any, value: Any, where: str) -> Any:
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value or {}, where)
    origin = typing.get_origin(hint)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{where}: expected a list, got {value!r}")
        (item,) = {a for a in typing.get_args(hint) if a is not Ellipsis}
        return tuple(_coerce(item, v, where) for v in value)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return None if value is None else _coerce(args[0], value, where)
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if hint in (int, str, bool) and not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
        raise ValueError(f"{where}: expected {hint.__name__}, got {value!r}")
    return value


def to_dict(cfg: Any) -> dict[str, Any]:
    """Plain nested dict (tuples as lists) for JSON/YAML."""
    def convert(value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            return [convert(v) for v in value]
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items()}
        return value

    return convert(dataclasses.asdict(cfg))


def load_yaml(path: str | os.PathLike, overrides: list[str] | None = None) -> dict[str, Any]:
    """Read YAML with an optional `base:` (relative path, one level) and `a.b=value` overrides."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: config file not found")
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    base = data.pop("base", None)
    if base is not None:
        base_data = yaml.safe_load((path.parent / base).read_text()) or {}
        if "base" in base_data:
            raise ValueError(f"{path}: base config {base} has its own base; only one level is allowed")
        data = merge(base_data, data)
    for item in overrides or []:
        data = merge(data, parse_override(item))
    return data


def merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Recursively merge `update` into a copy of `base`."""
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def parse_override(item: str) -> dict[str, Any]:
    """`a.b.c=value` -> {'a': {'b': {'c': value}}} with the value parsed as YAML."""
    if "=" not in item:
        raise ValueError(f"override {item!r} must look like key.subkey=value")
    key, raw = item.split("=", 1)
    value: Any = yaml.safe_load(raw)
    for part in reversed(key.strip().split(".")):
        value = {part: value}
    return value
