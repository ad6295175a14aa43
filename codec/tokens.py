"""The `Tokens` container: codes, lengths and the metadata needed to decode them."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors_bytes
from safetensors.torch import save as save_safetensors_bytes

from codec.io.files import atomic_write_bytes
from codec.nn.masks import length_mask

TOKENS_FORMAT = "codec.tokens"
TOKENS_FORMAT_VERSION = 1
_Number = TypeVar("_Number", int, float)


@dataclass(frozen=True)
class Tokens:
    """Discrete codes of a batch of utterances; semantic codebooks come first.

    codes: int64 [B, K, F]; frames at or past `lengths[b]` are padding (zeros).
    lengths: int64 [B] valid frames per item.
    audio_lengths: int64 [B] samples per item at `sample_rate` (exact decode length).
    """

    codes: torch.Tensor
    lengths: torch.Tensor
    audio_lengths: torch.Tensor
    sample_rate: int
    frame_rate: float
    codebook_size: int
    num_semantic_codebooks: int
    model_id: str = ""

    def __post_init__(self) -> None:
        if self.codes.dim() != 3:
            raise ValueError(f"Tokens.codes must be [B, K, F], got shape {tuple(self.codes.shape)}")
        if self.codes.dtype != torch.int64:
            raise ValueError(f"Tokens.codes must be int64, got {self.codes.dtype}")
        batch, _, frames = self.codes.shape
        for name in ("lengths", "audio_lengths"):
            value = getattr(self, name)
            if value.shape != (batch,):
                raise ValueError(f"Tokens.{name} must have shape [{batch}], got {tuple(value.shape)}")
        if batch and int(self.lengths.max()) > frames:
            raise ValueError(f"Tokens.lengths max {int(self.lengths.max())} exceeds the {frames} frames in codes")
        for name in ("lengths", "audio_lengths"):
            value = getattr(self, name)
            if value.is_floating_point() or value.dtype == torch.bool:
                raise ValueError(f"Tokens.{name} must be integers, got {value.dtype}")
            if batch and int(value.min()) < 0:
                raise ValueError(f"Tokens.{name} must be >= 0, got {value.tolist()}")
        if not 0 <= self.num_semantic_codebooks <= self.codes.shape[1]:
            raise ValueError(
                f"Tokens.num_semantic_codebooks={self.num_semantic_codebooks} must be in "
                f"[0, {self.codes.shape[1]}] (the codebooks present)"
            )
        if self.sample_rate <= 0 or not self.frame_rate > 0 or self.codebook_size < 1:
            raise ValueError(
                f"Tokens need sample_rate > 0, frame_rate > 0 and codebook_size >= 1; got "
                f"{self.sample_rate}, {self.frame_rate}, {self.codebook_size}"
            )

    @property
    def batch_size(self) -> int:
        """Number of items."""
        return self.codes.shape[0]

    @property
    def num_codebooks(self) -> int:
        """Codebooks present (K)."""
        return self.codes.shape[1]

    @property
    def num_frames(self) -> int:
        """Padded frame count (F)."""
        return self.codes.shape[2]

    @property
    def semantic(self) -> torch.Tensor:
        """Semantic codes [B, S, F] (the first `num_semantic_codebooks`)."""
        return self.codes[:, : self.num_semantic_codebooks]

    @property
    def acoustic(self) -> torch.Tensor:
        """Acoustic codes [B, K - S, F]."""
        return self.codes[:, self.num_semantic_codebooks :]

    @property
    def bitrate(self) -> float:
        """Nominal bits per second of the codebooks present."""
        return self.num_codebooks * self.frame_rate * float(torch.tensor(self.codebook_size).log2())

    def mask(self) -> torch.Tensor:
        """Bool [B, F]: True on valid frames."""
        return length_mask(self.lengths, self.num_frames)

    def truncate(self, num_codebooks: int) -> Tokens:
        """Keep the first `num_codebooks` codebooks (a lower bitrate)."""
        if not 1 <= num_codebooks <= self.num_codebooks:
            raise ValueError(f"num_codebooks must be in [1, {self.num_codebooks}], got {num_codebooks}")
        return replace(
            self,
            codes=self.codes[:, :num_codebooks],
            num_semantic_codebooks=min(self.num_semantic_codebooks, num_codebooks),
        )

    def to(self, device: torch.device | str) -> Tokens:
        """Move tensors to `device`."""
        return replace(
            self,
            codes=self.codes.to(device),
            lengths=self.lengths.to(device),
            audio_lengths=self.audio_lengths.to(device),
        )

    def unbatch(self) -> list[Tokens]:
        """Split into single-item Tokens trimmed to their valid frames."""
        return [self[i] for i in range(self.batch_size)]

    def __getitem__(self, index: int) -> Tokens:
        """Item `index` as a batch of one, trimmed to its valid frames."""
        n = int(self.lengths[index])
        return replace(
            self,
            codes=self.codes[index : index + 1, :, :n],
            lengths=self.lengths[index : index + 1],
            audio_lengths=self.audio_lengths[index : index + 1],
        )

    @staticmethod
    def cat(items: list[Tokens]) -> Tokens:
        """Stack items (same metadata) into one padded batch."""
        if not items:
            raise ValueError("Tokens.cat needs at least one item")
        first = items[0]
        for other in items[1:]:
            if _metadata(other) != _metadata(first):
                raise ValueError(
                    f"cannot batch Tokens with different metadata: {_metadata(first)} vs {_metadata(other)}"
                )
        frames = max(t.num_frames for t in items)
        codes = torch.cat([torch.nn.functional.pad(t.codes, (0, frames - t.num_frames)) for t in items])
        return replace(
            first,
            codes=codes,
            lengths=torch.cat([t.lengths for t in items]),
            audio_lengths=torch.cat([t.audio_lengths for t in items]),
        )

    def save(self, path: str | os.PathLike, exclusive: bool = False) -> None:
        """Write to a safetensors file atomically (no pickle); `exclusive` refuses to replace an existing file."""
        dtype = torch.int16 if self.codebook_size <= 2**15 else torch.int32
        tensors = {
            "codes": self.codes.to("cpu", dtype).contiguous(),
            "lengths": self.lengths.to("cpu", torch.int64).contiguous(),
            "audio_lengths": self.audio_lengths.to("cpu", torch.int64).contiguous(),
        }
        metadata = {"format": TOKENS_FORMAT, "format_version": str(TOKENS_FORMAT_VERSION)}
        metadata.update({k: str(v) for k, v in _metadata(self).items()})
        atomic_write_bytes(Path(path), save_safetensors_bytes(tensors, metadata=metadata), exclusive=exclusive)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Tokens:
        """Read a file written by `save`; raises ValueError naming the file if it is not one."""
        path = Path(path)
        data = path.read_bytes()
        try:
            tensors = load_safetensors_bytes(data)
            metadata = _read_metadata(data)
        except (SafetensorError, ValueError, UnicodeDecodeError) as err:
            raise ValueError(f"{path}: not a tokens file ({err})") from None
        if metadata.get("format") != TOKENS_FORMAT:
            raise ValueError(f"{path}: not a tokens file (format {metadata.get('format')!r})")
        try:
            version = int(metadata.get("format_version", "0"))
        except ValueError:
            raise ValueError(
                f"{path}: tokens format_version {metadata.get('format_version')!r} is not an integer"
            ) from None
        if version > TOKENS_FORMAT_VERSION:
            raise ValueError(f"{path}: tokens format version {version} is newer than supported {TOKENS_FORMAT_VERSION}")
        try:
            for name in ("codes", "lengths", "audio_lengths"):
                if tensors[name].is_floating_point() or tensors[name].dtype == torch.bool:
                    raise ValueError(f"'{name}' must hold integers, got {tensors[name].dtype}")
            return cls(
                codes=tensors["codes"].to(torch.int64),
                lengths=tensors["lengths"].to(torch.int64),
                audio_lengths=tensors["audio_lengths"].to(torch.int64),
                sample_rate=_number(metadata, "sample_rate", int),
                frame_rate=_number(metadata, "frame_rate", float),
                codebook_size=_number(metadata, "codebook_size", int),
                num_semantic_codebooks=_number(metadata, "num_semantic_codebooks", int),
                model_id=metadata.get("model_id", ""),
            )
        except KeyError as err:
            raise ValueError(f"{path}: tokens file lacks {err}") from None
        except ValueError as err:
            raise ValueError(f"{path}: bad tokens file ({err})") from None


def _number(metadata: dict[str, str], key: str, kind: type[_Number]) -> _Number:
    """A numeric metadata value; ValueError naming the key when it is not a number of that kind."""
    text = metadata[key]
    try:
        return kind(text)
    except (TypeError, ValueError):
        raise ValueError(f"metadata {key}={text!r} is not {'an integer' if kind is int else 'a number'}") from None


def _metadata(tokens: Tokens) -> dict[str, object]:
    return {
        "sample_rate": tokens.sample_rate,
        "frame_rate": tokens.frame_rate,
        "codebook_size": tokens.codebook_size,
        "num_semantic_codebooks": tokens.num_semantic_codebooks,
        "model_id": tokens.model_id,
    }


def _read_metadata(data: bytes) -> dict[str, str]:
    import json
    import struct

    if len(data) < 8:
        raise ValueError("file too short")
    (header_len,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + header_len].decode("utf-8"))
    return header.get("__metadata__", {}) or {}
