"""Decoders: latent frames [B, latent_dim, F] -> audio [B, 1, F*hop]."""

from __future__ import annotations

import torch
from torch import nn

from codec.config import CodecConfig
from codec.nn.conv import Conv1d, ConvTranspose1d, ResidualUnit, activation, apply_mask
from codec.nn.convnext import ConvNeXtStack
from codec.nn.stft import ISTFTHead


class VocoderDecoder(nn.Module):
    """Vocos-style vocoder: ConvNeXt backbone at the frame rate and an inverse-STFT head."""

    def __init__(self, cfg: CodecConfig) -> None:
        super().__init__()
        dec = cfg.decoder
        self.backbone = ConvNeXtStack(cfg.latent_dim, dec.dim, dec.intermediate_dim, dec.num_layers, cfg.causal)
        self.head = ISTFTHead(dec.dim, dec.n_fft, cfg.frame_size, cfg.causal)

    def forward(self, latent: torch.Tensor, frame_lengths: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.backbone(latent, frame_lengths), frame_lengths)

    @property
    def lookahead(self) -> int:
        """Streaming output delay in samples (the causal iSTFT head's n_fft - hop)."""
        return self.head.lookahead

    def flush(self) -> torch.Tensor:
        """End of a stream: the last `lookahead` output samples [B, 1, lookahead]."""
        return self.head.flush()


class ConvDecoder(nn.Module):
    """Time-domain decoder mirroring ConvEncoder: transposed convs with residual units, then tanh."""

    def __init__(self, cfg: CodecConfig) -> None:
        super().__init__()
        dec, causal = cfg.decoder, cfg.causal
        self.strides = tuple(reversed(cfg.encoder.strides))
        ch = dec.channels
        self.stem = Conv1d(cfg.latent_dim, ch, 7, causal=causal)
        self.stages = nn.ModuleList()
        for stride in self.strides:
            up = nn.Sequential(activation(dec.activation, ch), ConvTranspose1d(ch, ch // 2, stride, causal=causal))
            ch //= 2
            units = [ResidualUnit(ch, d, dec.activation, causal) for d in dec.residual_dilations]
            self.stages.append(nn.ModuleList([up, *units]))
        self.head = nn.Sequential(activation(dec.activation, ch), Conv1d(ch, 1, 7, causal=causal), nn.Tanh())

    def forward(self, latent: torch.Tensor, frame_lengths: torch.Tensor | None = None) -> torch.Tensor:
        lengths, scale = frame_lengths, 1
        x = apply_mask(self.stem(apply_mask(latent, lengths)), lengths)
        for stride, stage in zip(self.strides, self.stages):
            scale *= stride
            lengths = None if frame_lengths is None else frame_lengths * scale
            for layer in stage:
                x = apply_mask(layer(x), lengths)
        return apply_mask(self.head(x), lengths)

    @property
    def lookahead(self) -> int:
        """Streaming output delay in samples: none (causal transposed convs only reach back)."""
        return 0

    def flush(self) -> torch.Tensor:
        """End of a stream: nothing is held back, [B, 1, 0]."""
        state = self.stem.streaming_state
        batch = 1 if state is None else state.previous.shape[0]
        return torch.zeros(batch, 1, 0, device=self.stem.state_device())


def build_decoder(cfg: CodecConfig) -> nn.Module:
    """The decoder named by `cfg.decoder.kind`."""
    return VocoderDecoder(cfg) if cfg.decoder.kind == "vocoder" else ConvDecoder(cfg)
