"""`harmonic` decoder: the vocoder's ConvNeXt backbone and iSTFT head plus a harmonic (source) branch.

The iSTFT head models what is noise-like or unpredictable; the harmonic branch adds a sum of
sinusoids at multiples of a predicted f0, phase-continuous across frames, so voiced speech gets
exact harmonics and a coherent phase instead of what the iSTFT head has to learn bin by bin (the
"smeared harmonics" of the first release). Per frame the branch predicts f0 (a sigmoid between
`f0_min` and `f0_max`, log scale) and a signed amplitude per harmonic (zero at initialisation, so a
vocoder checkpoint loaded into this decoder starts with exactly the vocoder's output); harmonics at
or above 0.95 x Nyquist are silenced. Training supervises f0 with YIN targets of the real audio on
voiced frames (`training_losses`: `loss/f0`, in octaves); the synthesis does not backpropagate into f0.

Parameters vary linearly between frames: between frame centres for non-causal models; from the
previous frame's value to the current one across the frame for causal ones, which keeps the
branch causal and lets it stream (state: phase, previous frame, and a delay line matching the
iSTFT head's `lookahead`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, cast

import torch
import torch.nn.functional as F
from torch import nn

from codec.losses.pitch import f0_loss, yin_f0
from codec.models.decoders.vocoder import VocoderDecoder, VocoderDecoderConfig
from codec.models.interfaces import CodecShape
from codec.nn.masks import apply_mask
from codec.nn.streaming import StreamingModule
from codec.schema import bounded


@dataclass
class HarmonicDecoderConfig(VocoderDecoderConfig):
    """The vocoder's fields (same backbone and iSTFT head, so vocoder weights load) plus the harmonic branch's."""

    kind: Literal["harmonic"] = "harmonic"  # type: ignore[assignment]
    num_harmonics: int = bounded(64, 1, 1024)
    f0_min: float = bounded(50.0, 1.0, 4000.0)
    f0_max: float = bounded(600.0, 1.0, 8000.0)

    def validate(self, shape: CodecShape, where: str = "decoder") -> None:
        """Raise ValueError when this config does not fit `shape`."""
        super().validate(shape, where)
        if not self.f0_min < self.f0_max < shape.sample_rate / 2:
            raise ValueError(f"{where}: need f0_min < f0_max < sample_rate / 2, got {self.f0_min}, {self.f0_max}")


class HarmonicDecoder(VocoderDecoder):
    """The vocoder (backbone -> iSTFT head) plus a harmonic branch on the same features, summed.

    Its streaming lookahead is the iSTFT head's; the branch is delayed to match.
    """

    def __init__(self, cfg: HarmonicDecoderConfig, shape: CodecShape) -> None:
        super().__init__(cfg, shape)
        self.harmonic = HarmonicBranch(cfg, shape, self.lookahead)
        self._targets: tuple[torch.Tensor, torch.Tensor | None] | None = None

    def forward(self, latent: torch.Tensor, frame_lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Latent [B, latent_dim, F] -> audio [B, 1, F * frame_size]."""
        features = self.backbone(latent, frame_lengths)
        harmonic, f0 = self.harmonic(features)
        if self.training:
            self._targets = (f0, frame_lengths)
        audio = self.head(features, frame_lengths) + harmonic
        if frame_lengths is None or self.harmonic.streaming_state is not None:
            return audio
        return apply_mask(audio, frame_lengths * self.shape.frame_size)  # the branch's biases reach past the end

    def flush(self) -> torch.Tensor:
        """End of a stream: the last `lookahead` output samples [B, 1, lookahead]."""
        return self.head.flush() + self.harmonic.flush()

    def training_losses(self, audio: torch.Tensor, lengths: torch.Tensor) -> dict[str, torch.Tensor]:
        """`loss/f0` of the last training forward pass against YIN targets of `audio` [B, 1, T] (the real speech)."""
        if self._targets is None:
            raise RuntimeError("training_losses needs a forward pass in training mode first")
        f0, frame_lengths = self._targets
        self._targets = None
        cfg = cast(HarmonicDecoderConfig, self.cfg)
        target, voiced = yin_f0(audio, self.shape.sample_rate, self.shape.frame_size, cfg.f0_min, cfg.f0_max)
        if frame_lengths is None:
            frame_lengths = -(-lengths // self.shape.frame_size)
        return {"loss/f0": f0_loss(f0.float(), target.to(f0.device), voiced.to(f0.device), frame_lengths)}


# Adam moves every weight by about lr per step, so an unscaled linear head would move an amplitude by
# ~lr x dim per step (0.2 at lr 6e-4, dim 384: louder than speech within a few steps, as the first
# from-scratch A/B showed); the scale brings steps down to the size of speech harmonics (~0.01-0.1).
AMPLITUDE_SCALE = 0.01


class HarmonicBranch(StreamingModule):
    """Features [B, dim, F] -> (sum of f0 harmonics [B, 1, F * hop], f0 per frame [B, F])."""

    def __init__(self, cfg: HarmonicDecoderConfig, shape: CodecShape, delay: int) -> None:
        super().__init__()
        self.hop, self.sample_rate, self.causal = shape.frame_size, shape.sample_rate, shape.causal
        self.f0_min, self.f0_max, self.delay = cfg.f0_min, cfg.f0_max, delay
        self.f0 = nn.Linear(cfg.dim, 1)
        self.amplitudes = nn.Linear(cfg.dim, cfg.num_harmonics)
        nn.init.zeros_(self.amplitudes.weight)  # silent at first: a loaded vocoder's output is unchanged
        nn.init.zeros_(self.amplitudes.bias)
        self.register_buffer("numbers", torch.arange(1, cfg.num_harmonics + 1, dtype=torch.float32), persistent=False)

    numbers: torch.Tensor

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = features.transpose(1, 2).float()  # [B, F, dim]
        with torch.autocast(x.device.type, enabled=False):
            span = math.log(self.f0_max / self.f0_min)
            f0 = self.f0_min * torch.exp(span * torch.sigmoid(self.f0(x)[..., 0]))  # [B, F]
            amps = AMPLITUDE_SCALE * self.amplitudes(x)  # [B, F, H]
            amps = amps * (f0[..., None] * self.numbers < 0.475 * self.sample_rate)  # below 0.95 x Nyquist
            # f0 learns from loss/f0 only: reconstruction gradients through the running phase are chaotic
            # (a small f0 change moves every later sample) and drive the sigmoid into saturation.
            f0_t, amps_t = self._per_sample(f0.detach(), amps)  # [B, T], [B, T, H]
            phase = self._phase(f0_t)  # [B, T] in cycles
            waves = torch.sin((2.0 * math.pi) * phase[..., None] * self.numbers)  # [B, T, H]
            audio = (amps_t * waves).sum(-1)[:, None]
        if self.streaming_state is not None:
            audio = self._delayed(audio)
        return audio, f0

    def _per_sample(self, f0: torch.Tensor, amps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Frame values -> per-sample values: linear between frame centres, or previous -> current (causal)."""
        batch, frames, harmonics = amps.shape
        if not self.causal:
            both = torch.cat([f0[..., None], amps], -1).transpose(1, 2)  # [B, 1 + H, F]
            up = F.interpolate(both, size=frames * self.hop, mode="linear", align_corners=False).transpose(1, 2)
            return up[..., 0], up[..., 1:]
        state = self.streaming_state
        prev_f0 = f0[:, :1] if state is None or state.f0 is None else state.f0
        prev_amps = amps.new_zeros(batch, 1, harmonics) if state is None or state.amps is None else state.amps
        f0_prev = torch.cat([prev_f0, f0[:, :-1]], 1)
        amps_prev = torch.cat([prev_amps, amps[:, :-1]], 1)
        if state is not None:
            state.f0, state.amps = f0[:, -1:], amps[:, -1:]
        ramp = torch.arange(1, self.hop + 1, device=f0.device, dtype=f0.dtype) / self.hop  # [hop]
        f0_t = f0_prev[..., None] + (f0 - f0_prev)[..., None] * ramp  # [B, F, hop]
        amps_t = amps_prev[:, :, None] + (amps - amps_prev)[:, :, None] * ramp[:, None]  # [B, F, hop, H]
        return f0_t.reshape(batch, -1), amps_t.reshape(batch, -1, harmonics)

    def _phase(self, f0_t: torch.Tensor) -> torch.Tensor:
        """Running phase in cycles [B, T] from per-sample f0, kept in [0, 1) (float64 sums; streaming carries it)."""
        steps = f0_t.double() / self.sample_rate
        start = 0.0 if self.streaming_state is None else self.streaming_state.phase
        phase = torch.cumsum(steps, -1) - steps + start  # phase at each sample, before its own step
        if self.streaming_state is not None:
            self.streaming_state.phase = (phase[:, -1:] + steps[:, -1:]) % 1.0
        return (phase % 1.0).float()

    def _delayed(self, audio: torch.Tensor) -> torch.Tensor:
        """Streaming: delay the branch by the iSTFT head's lookahead so both parts line up."""
        state = self.streaming_state
        joined = torch.cat([state.pending, audio], -1)
        state.pending = joined[..., joined.shape[-1] - self.delay :]
        return joined[..., : joined.shape[-1] - self.delay]

    def flush(self) -> torch.Tensor:
        """End of a stream: the delayed last samples [B, 1, delay]."""
        return self.streaming_state.pending

    def init_state(self, batch_size: int) -> HarmonicState:
        """Zero phase, no previous frame, `delay` zeros in the delay line."""
        if not self.causal:
            raise ValueError("only the causal harmonic branch can stream")
        device = self.state_device()
        return HarmonicState(
            phase=torch.zeros(batch_size, 1, dtype=torch.float64, device=device),
            pending=torch.zeros(batch_size, 1, self.delay, device=device),
        )


@dataclass
class HarmonicState:
    """A stream's harmonic branch: running phase [B, 1], the previous frame's f0 / amplitudes, the delay line."""

    phase: torch.Tensor
    pending: torch.Tensor
    f0: torch.Tensor | None = None
    amps: torch.Tensor | None = None
