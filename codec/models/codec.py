"""The codec: encoder -> quantizer -> decoder (parts chosen by kind), with the tokenize/detokenize API."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from codec.config import (
    CHECKPOINT_FORMAT,
    CHECKPOINT_FORMAT_VERSION,
    CONFIG_FILE,
    CodecConfig,
    read_config,
    to_dict,
)
from codec.io.audio import AudioInput, prepare_batch
from codec.io.files import atomic_write_bytes
from codec.io.weights import (
    fold_weight_norm,
    has_weight_norm,
    load_state_strict,
    read_safetensors,
    sha256_file,
    write_safetensors,
)
from codec.models.interfaces import Decoder, Encoder, Quantizer
from codec.models.parts import DECODERS, ENCODERS, QUANTIZERS, kind_of
from codec.models.token_contract import TokenContract
from codec.nn.masks import length_mask
from codec.runtime.longform import LongForm
from codec.runtime.streaming import StreamForwarding, StreamingSession
from codec.tokens import Tokens

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_FORMAT_VERSION",
    "CONFIG_FILE",
    "WEIGHTS_FILE",
    "Codec",
    "CodecOutput",
    "read_config",
    "weights_model_id",
]
WEIGHTS_FILE = "model.safetensors"


@dataclass
class CodecOutput:
    """A differentiable training pass: reconstruction, codes and what the losses need."""

    audio: torch.Tensor
    codes: torch.Tensor
    latent: torch.Tensor
    quantized: torch.Tensor
    semantic_quantized: torch.Tensor
    commitment_loss: torch.Tensor
    frame_lengths: torch.Tensor


class Codec(nn.Module, TokenContract, StreamForwarding):
    """Speech codec encoder -> quantizer -> decoder; codes[:, :num_semantic_codebooks] are the semantic tokens.

    `Codec(cfg)` (= `Codec.from_config(cfg)`) builds each part from its config through the registries
    in `codec.models.parts`; `Codec(cfg, encoder=..., quantizer=..., decoder=...)` takes parts built
    elsewhere (each must carry the config `cfg` names for it, so the model saves and loads back).
    """

    def __init__(
        self,
        cfg: CodecConfig,
        model_id: str | None = None,
        *,
        encoder: Encoder | None = None,
        quantizer: Quantizer | None = None,
        decoder: Decoder | None = None,
    ) -> None:
        super().__init__()
        self.cfg = cfg
        self.model_id = model_id or cfg.name
        self.encoder = _part(encoder, ENCODERS, cfg, "encoder")
        self.quantizer = _part(quantizer, QUANTIZERS, cfg, "quantizer")
        self.decoder = _part(decoder, DECODERS, cfg, "decoder")
        self.stream: StreamingSession | None = None  # the open `with model.streaming()` session

    @classmethod
    def from_config(cls, cfg: CodecConfig, model_id: str | None = None) -> Codec:
        """A codec with random weights, each part built from `cfg` by its registered kind."""
        return cls(cfg, model_id)

    @classmethod
    def from_parts(cls, encoder: Encoder, quantizer: Quantizer, decoder: Decoder, name: str = "codec") -> Codec:
        """A codec joining parts built elsewhere; its config is read off the parts (shape from the encoder)."""
        shape = encoder.shape
        cfg = CodecConfig(
            name=name,
            sample_rate=shape.sample_rate,
            frame_size=shape.frame_size,
            latent_dim=shape.latent_dim,
            causal=shape.causal,
            encoder=encoder.cfg,
            quantizer=quantizer.cfg,
            decoder=decoder.cfg,
        )
        return cls(cfg, encoder=encoder, quantizer=quantizer, decoder=decoder)

    @property
    def device(self) -> torch.device:
        """Where the weights are."""
        return next(self.parameters()).device

    def num_frames(self, num_samples: torch.Tensor) -> torch.Tensor:
        """F = ceil(T / frame_size)."""
        return (num_samples + self.frame_size - 1) // self.frame_size

    # ---- differentiable parts ----------------------------------------------------------------
    def encode(self, audio: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Audio [B, 1, T] at the model rate -> (latent [B, D, F], frame lengths [B])."""
        frame_lengths = self.num_frames(lengths)
        frames = int(frame_lengths.max())
        audio = audio[..., : frames * self.frame_size]
        audio = nn.functional.pad(audio, (0, frames * self.frame_size - audio.shape[-1]))
        audio = audio * length_mask(lengths, audio.shape[-1])[:, None, :].to(audio.dtype)
        return self.encoder(audio, frame_lengths), frame_lengths

    def decode(self, quantized: torch.Tensor, frame_lengths: torch.Tensor) -> torch.Tensor:
        """Quantized latent [B, D, F] -> audio [B, 1, F * frame_size]."""
        return self.decoder(quantized, frame_lengths)

    def forward(self, audio: torch.Tensor, lengths: torch.Tensor | None = None) -> CodecOutput:
        """Training pass over audio [B, 1, T] at the model rate (quantizer dropout in train mode)."""
        if lengths is None:
            lengths = torch.full((audio.shape[0],), audio.shape[-1], device=audio.device)
        latent, frame_lengths = self.encode(audio, lengths)
        mask = length_mask(frame_lengths, latent.shape[-1])
        q = self.quantizer(latent, mask=mask)
        recon = self.decode(q.quantized, frame_lengths)
        return CodecOutput(recon, q.codes, latent, q.quantized, q.semantic_quantized, q.commitment_loss, frame_lengths)

    # ---- inference API -----------------------------------------------------------------------
    @torch.inference_mode()
    def tokenize(
        self,
        audio: AudioInput | Sequence[AudioInput],
        sample_rate: int | None = None,
        lengths: torch.Tensor | Sequence[int] | None = None,
        num_codebooks: int | None = None,
    ) -> Tokens:
        """Audio (paths, tensors, arrays or lists of them; any rate, any channels) -> Tokens."""
        k = self.check_num_codebooks(num_codebooks)
        wav, wav_lengths = prepare_batch(audio, sample_rate, self.sample_rate, lengths)
        wav, wav_lengths = wav.to(self.device), wav_lengths.to(self.device)
        latent, frame_lengths = self.encode(wav, wav_lengths)
        codes = self.quantizer.encode(latent, k)
        codes = codes.masked_fill(~length_mask(frame_lengths, codes.shape[-1])[:, None, :], 0)
        return self.make_tokens(codes, frame_lengths, wav_lengths)

    @torch.inference_mode()
    def detokenize(self, tokens: Tokens | torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Tokens (or codes [B, k, F] with frame lengths) -> audio [B, 1, T], exact length per item, zero past it."""
        tokens = self.as_tokens(tokens, lengths)
        self.check_tokens(tokens)
        tokens = tokens.to(self.device)
        quantized = self.quantizer.decode(tokens.codes)
        audio = self.decode(quantized, tokens.lengths)
        audio = audio[..., : int(tokens.audio_lengths.max())]
        return audio * length_mask(tokens.audio_lengths, audio.shape[-1])[:, None, :].to(audio.dtype)

    @torch.inference_mode()
    def embed(self, tokens: Tokens | torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Tokens (or codes [B, k, F]) -> quantized embeddings [B, latent_dim, F]: the sum of the k codebooks'
        vectors the decoder consumes (any prefix k works), zero on padding frames."""
        tokens = self.as_tokens(tokens, lengths)
        self.check_tokens(tokens)
        tokens = tokens.to(self.device)
        quantized = self.quantizer.decode(tokens.codes)
        return quantized * tokens.mask()[:, None, :].to(quantized.dtype)

    # ---- streaming and long-form (codec/runtime/streaming.py, codec/runtime/longform.py) ---------------------
    def streaming(self, batch_size: int = 1) -> StreamingSession:
        """`with model.streaming(B):` chunked encode_chunk/decode_chunk equal to offline (causal models only)."""
        return StreamingSession(self, batch_size)

    def tokenize_long(self, path: str | os.PathLike, **kwargs: Any) -> Tokens:
        """Tokenize a long audio file with memory bounded by the window (codec.runtime.longform.LongForm)."""
        num_codebooks = kwargs.pop("num_codebooks", None)
        return LongForm(self, **kwargs).tokenize(path, num_codebooks)

    def detokenize_long(self, tokens: Tokens, path: str | os.PathLike, **kwargs: Any) -> int:
        """Decode long Tokens straight to an audio file, window by window; samples written (codec.runtime.longform)."""
        subtype, exclusive = kwargs.pop("subtype", None), kwargs.pop("exclusive", False)
        return LongForm(self, **kwargs).detokenize(tokens, path, subtype, exclusive)

    # ---- checkpoints -------------------------------------------------------------------------
    def save_pretrained(self, directory: str | os.PathLike, dtype: torch.dtype | None = None) -> Path:
        """Write config.json + model.safetensors (atomically each) and adopt the id of the written weights.

        `dtype` (e.g. torch.float16) stores the parameters smaller; buffers such as codebooks stay as they are.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        metadata = {"format": CHECKPOINT_FORMAT, "format_version": str(CHECKPOINT_FORMAT_VERSION)}
        params = {name for name, _ in self.named_parameters()}
        state = {k: v.to(dtype) if dtype is not None and k in params else v for k, v in self.state_dict().items()}
        write_safetensors(directory / WEIGHTS_FILE, state, metadata)
        config = {"format": CHECKPOINT_FORMAT, "format_version": CHECKPOINT_FORMAT_VERSION, **to_dict(self.cfg)}
        atomic_write_bytes(directory / CONFIG_FILE, (json.dumps(config, indent=2) + "\n").encode())
        self.model_id = weights_model_id(self.cfg.name, directory / WEIGHTS_FILE)
        return directory

    @classmethod
    def from_pretrained(cls, source: str | os.PathLike, device: str | torch.device = "cpu") -> Codec:
        """Load a checkpoint directory written by `save_pretrained` (or a name/URL known to the hub)."""
        from codec.hub.sources import resolve

        directory = resolve(source)
        cfg = read_config(directory / CONFIG_FILE)
        model = cls.from_config(cfg, model_id=weights_model_id(cfg.name, directory / WEIGHTS_FILE))
        state = read_safetensors(directory / WEIGHTS_FILE)
        if not has_weight_norm(state):
            fold_weight_norm(model)  # a release written by `codec export`
        load_state_strict(model, state, str(directory / WEIGHTS_FILE))
        return model.to(device).eval()


def weights_model_id(name: str, weights: Path) -> str:
    """`name@sha256-prefix` of the weights file: tokens carry it so they meet the right decoder."""
    return f"{name}@{sha256_file(weights)[:12]}"


def _part(given: Any, registry: dict, cfg: CodecConfig, what: str) -> Any:
    """The injected part (checked against `cfg`) or the one `cfg` describes, built through its registry."""
    part_cfg = getattr(cfg, what)
    if given is None:
        return kind_of(registry, part_cfg, what).build(part_cfg, cfg.shape)
    if getattr(given, "cfg", None) != part_cfg:
        raise ValueError(f"the injected {what}'s config differs from cfg.{what}: the model would not load back")
    if getattr(given, "shape", cfg.shape) != cfg.shape:
        raise ValueError(f"the injected {what} was built for {given.shape}, cfg describes {cfg.shape}")
    return given
