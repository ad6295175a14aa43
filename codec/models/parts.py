"""The registries of part kinds: config `kind` -> (config dataclass, module class).

Adding a kind: write one module with a config dataclass (a `kind: Literal[...]` field, `validate(shape)`)
and an nn.Module taking `(cfg, shape)`, then add one line to the registry below. docs/architecture.md
walks through it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from torch import nn

from codec.models.decoders import (
    ConvDecoder,
    ConvDecoderConfig,
    HarmonicDecoder,
    HarmonicDecoderConfig,
    VocoderDecoder,
    VocoderDecoderConfig,
)
from codec.models.encoders import ConvEncoder, ConvEncoderConfig, FrameEncoder, FrameEncoderConfig
from codec.models.encoders.mel import MelEncoder, MelEncoderConfig
from codec.models.interfaces import CodecShape
from codec.quantization import ResidualQuantizer, RVQConfig
from codec.quantization.fsq import FSQConfig, ResidualFSQuantizer

M = TypeVar("M", bound=nn.Module)


@dataclass(frozen=True)
class Kind(Generic[M]):
    """One registered kind: its config dataclass and the module built from (config, shape)."""

    config: type
    module: type[M]

    def build(self, cfg: Any, shape: CodecShape) -> M:
        """The module for `cfg` (an instance of `config`)."""
        if not isinstance(cfg, self.config):
            raise TypeError(f"expected a {self.config.__name__}, got {type(cfg).__name__}")
        return self.module(cfg, shape)


ENCODERS: dict[str, Kind] = {
    "frame": Kind(FrameEncoderConfig, FrameEncoder),
    "conv": Kind(ConvEncoderConfig, ConvEncoder),
    "mel": Kind(MelEncoderConfig, MelEncoder),
}
QUANTIZERS: dict[str, Kind] = {
    "rvq": Kind(RVQConfig, ResidualQuantizer),
    "fsq": Kind(FSQConfig, ResidualFSQuantizer),
}
DECODERS: dict[str, Kind] = {
    "vocoder": Kind(VocoderDecoderConfig, VocoderDecoder),
    "conv": Kind(ConvDecoderConfig, ConvDecoder),
    "harmonic": Kind(HarmonicDecoderConfig, HarmonicDecoder),
}


def kind_of(registry: dict[str, Kind], cfg: Any, what: str) -> Kind:
    """The registry entry for config `cfg` (by its `kind`)."""
    kind = getattr(cfg, "kind", None)
    if kind not in registry:
        raise ValueError(f"{what}.kind: {kind!r} is not a known {what} kind; known: {sorted(registry)}")
    return registry[kind]
