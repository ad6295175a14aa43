"""What the torch model and the ONNX backend both promise about tokens: how they are made, wrapped and checked."""

from __future__ import annotations

import torch

from codec.config import ConfigSizes
from codec.tokens import Tokens


class TokenContract(ConfigSizes):
    """Tokens of one model: the factory, wrapping raw codes, the checks before decoding (reads sizes, model_id)."""

    model_id: str

    def make_tokens(self, codes: torch.Tensor, lengths: torch.Tensor, audio_lengths: torch.Tensor) -> Tokens:
        """Tokens of this model from codes [B, k, F], frame lengths [B] and audio lengths [B]."""
        return Tokens(
            codes=codes.long(),
            lengths=lengths,
            audio_lengths=audio_lengths,
            sample_rate=self.sample_rate,
            frame_rate=self.frame_rate,
            codebook_size=self.codebook_size,
            num_semantic_codebooks=min(self.num_semantic_codebooks, codes.shape[1]),
            model_id=self.model_id,
        )

    def as_tokens(self, codes: Tokens | torch.Tensor, lengths: torch.Tensor | None = None) -> Tokens:
        """Wrap raw codes [B, k, F] (e.g. from a language model) as Tokens of this model."""
        if isinstance(codes, Tokens):
            if lengths is not None:
                raise ValueError("lengths are taken from the Tokens; pass lengths only with raw codes")
            return codes
        if not isinstance(codes, torch.Tensor) or codes.dim() != 3:
            raise ValueError(f"codes must be an int tensor [B, K, F], got {getattr(codes, 'shape', type(codes))}")
        if codes.is_floating_point():
            raise ValueError(f"codes must be integers, got {codes.dtype}")
        batch, _, frames = codes.shape
        frame_lengths = torch.full((batch,), frames) if lengths is None else torch.as_tensor(lengths).long().cpu()
        audio_lengths = frame_lengths * self.frame_size
        return self.make_tokens(codes, frame_lengths.to(codes.device), audio_lengths.to(codes.device))

    def check_tokens(self, tokens: Tokens) -> None:
        """Raise ValueError if `tokens` cannot be decoded by this model (with the expected values)."""
        expected = {
            "sample_rate": self.sample_rate,
            "frame_rate": self.frame_rate,
            "codebook_size": self.codebook_size,
        }
        for name, value in expected.items():
            if getattr(tokens, name) != value:
                raise ValueError(f"tokens have {name}={getattr(tokens, name)}, this model expects {value}")
        if tokens.model_id and tokens.model_id != self.model_id:
            raise ValueError(f"tokens come from model {tokens.model_id!r}, this model is {self.model_id!r}")
        self.check_num_codebooks(tokens.num_codebooks)
        valid = tokens.codes.masked_select(tokens.mask()[:, None, :])
        if valid.numel() and (int(valid.min()) < 0 or int(valid.max()) >= self.codebook_size):
            raise ValueError(
                f"token ids must be in [0, {self.codebook_size - 1}], "
                f"got range [{int(valid.min())}, {int(valid.max())}]"
            )
        too_long = tokens.audio_lengths > tokens.lengths * self.frame_size
        if bool(too_long.any()):
            raise ValueError(f"audio_lengths {tokens.audio_lengths.tolist()} exceed frames x {self.frame_size}")

    def check_num_codebooks(self, num_codebooks: int | None) -> int:
        """`num_codebooks` (None = all) checked against K."""
        k = self.num_codebooks if num_codebooks is None else int(num_codebooks)
        if not 1 <= k <= self.num_codebooks:
            raise ValueError(f"num_codebooks must be in [1, {self.num_codebooks}], got {num_codebooks}")
        return k
