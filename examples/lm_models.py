"""Tiny decoder-only transformers (plain torch) over codec tokens, one per layout family.

Each model has `loss(codes, lengths)` on a batch of codes [B, K, F] and `generate(prompt, frames)`
that continues a prompt [1, K, P] to codes [1, K, frames]. The layouts (codec.layouts) do all the
reordering and its inversion; the models only see ids.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from codec.layouts import Vocabulary, delay, depth, flatten, frame_inputs, undelay, unflatten, within_frame


class CausalStack(nn.Module):
    """Pre-norm causal transformer over [B, T, D] with learned positions."""

    def __init__(self, dim: int, layers: int, heads: int, max_len: int) -> None:
        super().__init__()
        self.positions = nn.Embedding(max_len, dim)
        layer = nn.TransformerEncoderLayer(dim, heads, 4 * dim, dropout=0.0, batch_first=True, norm_first=True)
        self.layers = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        steps = x.shape[1]
        if steps > self.positions.num_embeddings:
            raise ValueError(f"sequence of {steps} steps is longer than max_len {self.positions.num_embeddings}")
        mask = nn.Transformer.generate_square_subsequent_mask(steps, device=x.device)
        x = x + self.positions(torch.arange(steps, device=x.device))[None]
        return self.norm(self.layers(x, mask=mask, is_causal=True))


def _sample(logits: torch.Tensor, temperature: float, generator: torch.Generator | None) -> torch.Tensor:
    if temperature <= 0:
        return logits.argmax(-1)
    probs = torch.softmax(logits / temperature, -1)
    return torch.multinomial(probs.reshape(-1, probs.shape[-1]), 1, generator=generator).reshape(probs.shape[:-1])


class FlatLM(nn.Module):
    """`flatten` layout: one id per step, frame-major (K steps per frame); bos first."""

    def __init__(self, vocab: Vocabulary, dim: int, layers: int, heads: int, max_frames: int) -> None:
        super().__init__()
        self.vocab = vocab
        self.embed = nn.Embedding(vocab.size, dim)
        self.stack = CausalStack(dim, layers, heads, max_frames * vocab.num_codebooks + 1)
        self.head = nn.Linear(dim, vocab.size)

    def _ids(self, codes: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        v = self.vocab
        flat = flatten(codes, lengths, codebook_size=v.codebook_size, offset=v.audio_offset, pad_id=v.pad_id)
        return torch.cat([torch.full_like(flat.ids[:, :1], v.bos_id), flat.ids], 1)

    def loss(self, codes: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        ids = self._ids(codes, lengths)
        logits = self.head(self.stack(self.embed(ids[:, :-1])))
        targets = ids[:, 1:].masked_fill(ids[:, 1:] == self.vocab.pad_id, -100)
        return F.cross_entropy(logits.transpose(1, 2), targets, ignore_index=-100)

    @torch.no_grad()
    def generate(
        self, prompt: torch.Tensor, frames: int, temperature: float = 1.0, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        v, books = self.vocab, self.vocab.num_codebooks
        ids = self._ids(prompt, torch.tensor([prompt.shape[2]]))
        while ids.shape[1] < 1 + frames * books:
            k = (ids.shape[1] - 1) % books  # the codebook this step must hold: sample only its range
            logits = self.head(self.stack(self.embed(ids)))[:, -1]
            low = v.codebook_offset(k)
            code = _sample(logits[:, low : low + v.codebook_size], temperature, generator)
            ids = torch.cat([ids, (code + low)[:, None]], 1)
        out = unflatten(
            ids[:, 1:],
            torch.tensor([frames * books]),
            num_codebooks=books,
            codebook_size=v.codebook_size,
            offset=v.audio_offset,
        )
        return out.codes


class DelayLM(nn.Module):
    """`delay` layout (MusicGen): K codes per step, summed embeddings, K output heads."""

    def __init__(self, vocab: Vocabulary, dim: int, layers: int, heads: int, max_frames: int) -> None:
        super().__init__()
        self.vocab = vocab
        size = vocab.codebook_size
        self.pad, self.bos = size, size + 1  # raw codes per codebook, plus pad and bos
        self.embeds = nn.ModuleList(nn.Embedding(size + 2, dim) for _ in range(vocab.num_codebooks))
        self.stack = CausalStack(dim, layers, heads, max_frames + vocab.num_codebooks)
        self.heads = nn.ModuleList(nn.Linear(dim, size) for _ in range(vocab.num_codebooks))

    def _hidden(self, steps: torch.Tensor) -> torch.Tensor:
        """Hidden state after each step of inputs [B, K, T] (bos step prepended)."""
        bos = torch.full((steps.shape[0], steps.shape[1], 1), self.bos, dtype=torch.int64)
        x = torch.cat([bos, steps], 2)
        return self.stack(sum(e(x[:, k]) for k, e in enumerate(self.embeds)))

    def loss(self, codes: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        d = delay(codes, lengths, pad_id=self.pad)
        h = self._hidden(d.ids[:, :, :-1])
        logits = torch.stack([head(h) for head in self.heads], 1)  # [B, K, T, C]
        return F.cross_entropy(logits[d.mask], d.ids[d.mask])

    @torch.no_grad()
    def generate(
        self, prompt: torch.Tensor, frames: int, temperature: float = 1.0, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        books = self.vocab.num_codebooks
        known = prompt.shape[2]
        steps = torch.full((1, books, frames + books - 1), self.pad, dtype=torch.int64)
        target = delay(prompt, torch.tensor([known]), pad_id=self.pad)
        steps[:, :, : target.ids.shape[2]] = torch.where(target.mask, target.ids, steps[:, :, : target.ids.shape[2]])
        for t in range(steps.shape[2]):
            h = self._hidden(steps[:, :, :t])[:, -1]
            for k in range(books):
                source = t - k  # delay k: step t holds codebook k of frame t - k
                if known <= source < frames:
                    steps[0, k, t] = _sample(self.heads[k](h), temperature, generator)[0]
        return undelay(steps, torch.tensor([steps.shape[2]]), delays=list(range(books))).codes


class DepthLM(nn.Module):
    """`depth` layout (RQ-Transformer / Moshi): temporal transformer over frames, depth transformer over K."""

    def __init__(self, vocab: Vocabulary, dim: int, layers: int, heads: int, max_frames: int) -> None:
        super().__init__()
        self.vocab = vocab
        self.embed = nn.Embedding(vocab.size, dim)  # ids carry per-codebook offsets: one table serves all
        self.temporal = CausalStack(dim, layers, heads, max_frames)
        self.depth = CausalStack(dim, 1, heads, vocab.num_codebooks)
        self.heads = nn.ModuleList(nn.Linear(dim, vocab.codebook_size) for _ in range(vocab.num_codebooks))

    def _context(self, groups) -> torch.Tensor:
        """Temporal hidden state per frame [B, F, D] (frame f sees frames < f)."""
        return self.temporal(self.embed(frame_inputs(groups, self.vocab.bos_id)).sum(2))

    def _depth_logits(self, context: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """Logits [N, K, C] for each frame's K codes given its context [N, D] and its ids [N, K] (teacher forced)."""
        x = torch.cat([context[:, None], context[:, None] + self.embed(rows[:, :-1])], 1)
        h = self.depth(x)
        return torch.stack([head(h[:, k]) for k, head in enumerate(self.heads)], 1)

    def _groups(self, codes: torch.Tensor, lengths: torch.Tensor):
        v = self.vocab
        return depth(codes, lengths, codebook_size=v.codebook_size, offset=v.audio_offset, pad_id=v.pad_id)

    def loss(self, codes: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        groups = self._groups(codes, lengths)
        rows = within_frame(groups)
        context = self._context(groups)[rows.item, rows.frame]
        logits = self._depth_logits(context, rows.ids)
        starts = torch.tensor([self.vocab.codebook_offset(k) for k in range(self.vocab.num_codebooks)])
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), (rows.ids - starts).reshape(-1))

    @torch.no_grad()
    def generate(
        self, prompt: torch.Tensor, frames: int, temperature: float = 1.0, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        v, books = self.vocab, self.vocab.num_codebooks
        codes = torch.zeros((1, books, frames), dtype=torch.int64)
        codes[:, :, : prompt.shape[2]] = prompt
        for f in range(prompt.shape[2], frames):
            context = self._context(self._groups(codes[:, :, : f + 1], torch.tensor([f + 1])))[:, f]
            row = torch.zeros((1, books), dtype=torch.int64)
            for k in range(books):
                filled = row + torch.tensor([v.codebook_offset(j) for j in range(books)])
                logits = self._depth_logits(context, filled)[:, k]
                row[0, k] = _sample(logits, temperature, generator)[0]
            codes[:, :, f] = row
        return codes


MODELS = {"flatten": FlatLM, "delay": DelayLM, "depth": DepthLM}
