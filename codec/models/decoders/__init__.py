"""Decoders: latent frames [B, latent_dim, F] -> audio [B, 1, F * frame_size]; one module per kind."""

from codec.models.decoders.conv import ConvDecoder, ConvDecoderConfig
from codec.models.decoders.harmonic import HarmonicDecoder, HarmonicDecoderConfig
from codec.models.decoders.vocoder import VocoderDecoder, VocoderDecoderConfig

__all__ = [
    "ConvDecoder",
    "ConvDecoderConfig",
    "HarmonicDecoder",
    "HarmonicDecoderConfig",
    "VocoderDecoder",
    "VocoderDecoderConfig",
]
