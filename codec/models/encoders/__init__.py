"""Encoders: audio [B, 1, F * frame_size] -> latent frames [B, latent_dim, F]; one module per kind."""

from codec.models.encoders.conv import ConvEncoder, ConvEncoderConfig
from codec.models.encoders.frame import FrameEncoder, FrameEncoderConfig

__all__ = ["ConvEncoder", "ConvEncoderConfig", "FrameEncoder", "FrameEncoderConfig"]
