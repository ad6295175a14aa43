"""The codec's configuration: shared shape (rates, sizes) plus one config per part, each of a registered kind.

`CodecConfig.encoder` / `.quantizer` / `.decoder` hold the config dataclass of the kind named by
their `kind` key (registries in `codec.models.parts`). Configs written before kinds had their own
classes (one flat class per part) still load: keys of the old flat classes that a kind does not use
are ignored, and a `conv` decoder without `strides` mirrors `encoder.strides` as it used to.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, ClassVar, Protocol

from codec.errors import one_line
from codec.models.interfaces import CodecShape
from codec.models.parts import DECODERS, ENCODERS, QUANTIZERS, kind_of
from codec.schema import OneOf, bounded, check_ranges, from_dict, load_yaml, merge, parse_override, to_dict

__all__ = [
    "CodecConfig",
    "DecoderConfig",
    "EncoderConfig",
    "QuantizerConfig",
    "from_dict",
    "load_yaml",
    "merge",
    "parse_override",
    "to_dict",
    "validate_codec_config",
]
# Fields of the flat EncoderConfig / DecoderConfig / QuantizerConfig that every kind shared before
# (and a conv decoder's strides, so a decoder config converts to another kind).
LEGACY_ENCODER_KEYS = frozenset(
    {"dim", "num_layers", "n_fft", "channels", "strides", "residual_dilations", "activation"}
)
LEGACY_DECODER_KEYS = frozenset(
    {"dim", "intermediate_dim", "num_layers", "n_fft", "channels", "residual_dilations", "activation", "strides"}
)
LEGACY_QUANTIZER_KEYS = frozenset(
    {
        "num_codebooks",
        "codebook_size",
        "codebook_dim",
        "num_semantic_codebooks",
        "ema_decay",
        "kmeans_init",
        "threshold_ema_dead_code",
        "commitment_weight",
        "dropout_probability",
    }
)


class PartConfig(Protocol):
    """What every part config has (a dataclass with a `kind`)."""

    __dataclass_fields__: ClassVar[dict[str, Any]]
    kind: str

    def validate(self, shape: CodecShape, where: str) -> None: ...


class QuantizerSpec(PartConfig, Protocol):
    """What every quantizer config has."""

    num_codebooks: int
    num_semantic_codebooks: int

    @property
    def codebook_size(self) -> int: ...


class DecoderSpec(PartConfig, Protocol):
    """What every decoder config has."""

    def lookahead(self, shape: CodecShape) -> int:
        """Samples by which the causal decoder's streaming output lags its input frames."""
        ...


ENCODER = OneOf("encoder", ENCODERS, "frame", LEGACY_ENCODER_KEYS)
QUANTIZER = OneOf("quantizer", QUANTIZERS, "rvq", LEGACY_QUANTIZER_KEYS)
DECODER = OneOf("decoder", DECODERS, "vocoder", LEGACY_DECODER_KEYS)


def EncoderConfig(kind: str = "frame", **values: Any) -> Any:  # the old class name, kept as a factory
    """The config of encoder `kind` from keyword values (the old flat fields other kinds used are ignored)."""
    return ENCODER.make(kind, values)


def QuantizerConfig(kind: str = "rvq", **values: Any) -> Any:
    """The config of quantizer `kind` from keyword values (the old flat fields other kinds used are ignored)."""
    return QUANTIZER.make(kind, values)


def DecoderConfig(kind: str = "vocoder", **values: Any) -> Any:
    """The config of decoder `kind` from keyword values (the old flat fields other kinds used are ignored)."""
    return DECODER.make(kind, values)


@dataclass
class CodecConfig:
    """A whole codec; the defaults are the 16 kHz, 50 Hz, 8 x 1024 (4 kbps) speech config."""

    name: str = "speechcodec-16k-50hz"
    sample_rate: int = bounded(16000, 1000, 384000)
    frame_size: int = bounded(320, 1, 65536)
    latent_dim: int = bounded(256, 1, 8192)
    causal: bool = False
    encoder: Annotated[PartConfig, ENCODER] = field(default_factory=lambda: EncoderConfig())
    quantizer: Annotated[QuantizerSpec, QUANTIZER] = field(default_factory=lambda: QuantizerConfig())
    decoder: Annotated[DecoderSpec, DECODER] = field(default_factory=lambda: DecoderConfig())

    def __post_init__(self) -> None:
        validate_codec_config(self)

    @classmethod
    def upgrade_dict(cls, data: dict[str, Any]) -> dict[str, Any]:
        """Map configs written before decoders had their own strides: a conv decoder mirrors encoder.strides."""
        decoder, encoder = data.get("decoder"), data.get("encoder")
        if isinstance(decoder, dict) and decoder.get("kind") == "conv" and "strides" not in decoder:
            strides = encoder.get("strides") if isinstance(encoder, dict) else None
            if isinstance(strides, (list, tuple)):
                data = merge(data, {"decoder": {"strides": list(reversed(strides))}})
        return data

    @property
    def shape(self) -> CodecShape:
        """What every part agrees on."""
        return CodecShape(self.sample_rate, self.frame_size, self.latent_dim, self.causal)

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
    """Raise ValueError when a value is out of range or the parts of `cfg` do not fit together."""
    check_ranges(cfg)
    if not isinstance(cfg.name, str) or not 0 < len(cfg.name) <= 200 or not cfg.name.isprintable():
        raise ValueError(f"name: expected 1 to 200 printable characters, got {str(cfg.name)[:40]!r}")
    shape = cfg.shape
    for what, registry in (("encoder", ENCODERS), ("quantizer", QUANTIZERS), ("decoder", DECODERS)):
        part = getattr(cfg, what)
        entry = kind_of(registry, part, what)
        if not isinstance(part, entry.config):
            raise ValueError(f"{what}: a {type(part).__name__} is not the config of kind {part.kind!r}")
        part.validate(shape, what)
    if not math.isfinite(cfg.frame_rate):
        raise ValueError(f"frame rate {cfg.frame_rate} is not finite")


CONFIG_FILE = "config.json"
CHECKPOINT_FORMAT = "codec.model"
CHECKPOINT_FORMAT_VERSION = 1


MAX_CONFIG_BYTES = 1 << 20


def read_config(path: Path) -> CodecConfig:
    """Parse and validate a checkpoint's config.json before anything is built; problems raise a one-line
    ValueError naming the file and the field."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: checkpoint config not found")
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise ValueError(f"{path}: {path.stat().st_size} bytes is too large for a config (max {MAX_CONFIG_BYTES})")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from None
    except RecursionError:
        raise ValueError(f"{path}: JSON nested too deeply") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object at the top level, got {type(data).__name__}")
    fmt = data.pop("format", CHECKPOINT_FORMAT)
    if fmt != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: format {fmt!r} is not a codec checkpoint config ({CHECKPOINT_FORMAT!r})")
    version = data.pop("format_version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"{path}: format_version must be a positive integer, got {version!r}")
    if version > CHECKPOINT_FORMAT_VERSION:
        raise ValueError(f"{path}: checkpoint format {version} is newer than supported {CHECKPOINT_FORMAT_VERSION}")
    try:
        return from_dict(CodecConfig, data)
    except (ValueError, TypeError) as err:
        raise ValueError(f"{path}: {one_line(err)}") from None


class ConfigSizes:
    """Rates and codebook sizes read off `self.cfg`: the torch `Codec` and the ONNX backend answer alike."""

    cfg: CodecConfig

    @property
    def sample_rate(self) -> int:
        """Audio samples per second."""
        return self.cfg.sample_rate

    @property
    def frame_size(self) -> int:
        """Audio samples per token frame."""
        return self.cfg.frame_size

    @property
    def frame_rate(self) -> float:
        """Token frames per second."""
        return self.cfg.frame_rate

    @property
    def num_codebooks(self) -> int:
        """K."""
        return self.cfg.quantizer.num_codebooks

    @property
    def codebook_size(self) -> int:
        """Entries per codebook."""
        return self.cfg.quantizer.codebook_size

    @property
    def num_semantic_codebooks(self) -> int:
        """Leading codebooks that carry semantic tokens."""
        return self.cfg.quantizer.num_semantic_codebooks
