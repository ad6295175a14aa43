"""`Vocabulary`: the joint text + per-codebook audio + special-token id space."""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch

from codec.layouts.checks import check_int, unpack
from codec.tokens import Tokens

_SPECIAL_NAME = re.compile(r"[a-z][a-z0-9_]*\Z")


@dataclass(frozen=True)
class Vocabulary:
    """Joint id space: [text ids | codebook 0 | ... | codebook K-1 | special tokens]."""

    num_codebooks: int
    codebook_size: int
    text_vocab_size: int = 0
    special_tokens: tuple[str, ...] = ("bos", "eos", "pad", "sep")
    prefix: str = "sc"

    def __post_init__(self) -> None:
        check_int("num_codebooks", self.num_codebooks, 1)
        check_int("codebook_size", self.codebook_size, 1)
        check_int("text_vocab_size", self.text_vocab_size, 0)
        if isinstance(self.special_tokens, str) or not all(
            isinstance(s, str) and _SPECIAL_NAME.match(s) for s in self.special_tokens
        ):
            raise ValueError(f"special_tokens must be names matching [a-z][a-z0-9_]*, got {self.special_tokens!r}")
        if len(set(self.special_tokens)) != len(self.special_tokens):
            raise ValueError(f"special_tokens must be unique, got {self.special_tokens!r}")
        object.__setattr__(self, "special_tokens", tuple(self.special_tokens))
        if not isinstance(self.prefix, str) or not re.fullmatch(r"[A-Za-z0-9_]+", self.prefix):
            raise ValueError(f"prefix must be a non-empty [A-Za-z0-9_] string, got {self.prefix!r}")

    @classmethod
    def from_tokens(cls, tokens: Tokens, text_vocab_size: int = 0, **kwargs: object) -> Vocabulary:
        """Vocabulary sized for `tokens` (its K and codebook size)."""
        return cls(tokens.num_codebooks, tokens.codebook_size, text_vocab_size, **kwargs)  # type: ignore[arg-type]

    @property
    def audio_offset(self) -> int:
        """First audio id (codebook 0, code 0); pass as `offset` to the layout functions."""
        return self.text_vocab_size

    @property
    def special_offset(self) -> int:
        """First special-token id (right after the codebook ranges)."""
        return self.text_vocab_size + self.num_codebooks * self.codebook_size

    @property
    def size(self) -> int:
        """Total number of ids."""
        return self.special_offset + len(self.special_tokens)

    def codebook_offset(self, k: int) -> int:
        """Id of code 0 in codebook `k`."""
        if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k < self.num_codebooks:
            raise ValueError(f"codebook index must be in [0, {self.num_codebooks}), got {k!r}")
        return self.text_vocab_size + k * self.codebook_size

    def id_of(self, k: int, code: int | torch.Tensor) -> int | torch.Tensor:
        """Id of `code` (an int or an integer tensor) in codebook `k`."""
        start = self.codebook_offset(k)
        if isinstance(code, torch.Tensor):
            if code.numel() and (int(code.min()) < 0 or int(code.max()) >= self.codebook_size):
                raise ValueError(
                    f"codes must be in [0, {self.codebook_size}), got [{int(code.min())}, {int(code.max())}]"
                )
            return code.to(torch.int64) + start
        if isinstance(code, bool) or not isinstance(code, int) or not 0 <= code < self.codebook_size:
            raise ValueError(f"code must be in [0, {self.codebook_size}), got {code!r}")
        return start + code

    def special_id(self, name: str) -> int:
        """Id of special token `name`."""
        if name not in self.special_tokens:
            raise ValueError(f"no special token {name!r}; have {list(self.special_tokens)}")
        return self.special_offset + self.special_tokens.index(name)

    @property
    def bos_id(self) -> int:
        """Id of the `bos` special token."""
        return self.special_id("bos")

    @property
    def eos_id(self) -> int:
        """Id of the `eos` special token."""
        return self.special_id("eos")

    @property
    def pad_id(self) -> int:
        """Id of the `pad` special token."""
        return self.special_id("pad")

    @property
    def sep_id(self) -> int:
        """Id of the `sep` special token."""
        return self.special_id("sep")

    def parse(self, token_id: int) -> tuple[int, int] | str:
        """(codebook, code) of an audio id, or the name of a special id; text ids raise ValueError."""
        if isinstance(token_id, bool) or not isinstance(token_id, int) or not 0 <= token_id < self.size:
            raise ValueError(f"id must be an int in [0, {self.size}), got {token_id!r}")
        if token_id < self.text_vocab_size:
            raise ValueError(f"id {token_id} is a text id (below text_vocab_size {self.text_vocab_size})")
        if token_id >= self.special_offset:
            return self.special_tokens[token_id - self.special_offset]
        return divmod(token_id - self.text_vocab_size, self.codebook_size)

    def token_string(self, token_id: int) -> str:
        """String form of an audio or special id, e.g. `<|sc_0_123|>` or `<|sc_bos|>`."""
        parsed = self.parse(token_id)
        if isinstance(parsed, str):
            return f"<|{self.prefix}_{parsed}|>"
        return f"<|{self.prefix}_{parsed[0]}_{parsed[1]}|>"

    def token_strings(self) -> list[str]:
        """Strings for ids `audio_offset` .. `size - 1` in id order (to add to a Hugging Face tokenizer)."""
        books = [f"<|{self.prefix}_{k}_{c}|>" for k in range(self.num_codebooks) for c in range(self.codebook_size)]
        return books + [f"<|{self.prefix}_{name}|>" for name in self.special_tokens]


def _unpack_for(
    vocab: Vocabulary, codes: Tokens | torch.Tensor, lengths: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Validated codes [B, K, F] and lengths, checked against the Vocabulary's K and codebook size."""
    if not isinstance(vocab, Vocabulary):
        raise ValueError(f"vocab must be a Vocabulary, got {type(vocab).__name__}")
    codes, lengths, _ = unpack(codes, lengths, vocab.codebook_size)
    if codes.shape[1] != vocab.num_codebooks:
        raise ValueError(
            f"codes have {codes.shape[1]} codebooks, the Vocabulary {vocab.num_codebooks} "
            "(truncate the Tokens or build the Vocabulary for K)"
        )
    return codes, lengths
