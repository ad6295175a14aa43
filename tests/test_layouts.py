"""Round trips, reference orderings and error cases of codec.layouts."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from codec.layouts import (
    CodeBatch,
    Vocabulary,
    coarse_first,
    deinterleave,
    delay,
    flatten,
    interleave_text,
    split_coarse_first,
    undelay,
    unflatten,
)
from codec.tokens import Tokens

FAST = settings(max_examples=100, deadline=None)
GARBAGE = -7  # written into padding frames to prove they are ignored


@st.composite
def batches(draw: st.DrawFn, max_books: int = 4) -> tuple[torch.Tensor, torch.Tensor, int]:
    """(codes [B, K, F] with garbage padding, ragged lengths [B], codebook_size)."""
    batch = draw(st.integers(1, 3))
    books = draw(st.integers(1, max_books))
    frames = draw(st.integers(0, 6))
    size = draw(st.integers(1, 40))
    seed = draw(st.integers(0, 2**31 - 1))
    codes = torch.randint(0, size, (batch, books, frames), generator=torch.Generator().manual_seed(seed))
    lengths = torch.tensor(draw(st.lists(st.integers(0, frames), min_size=batch, max_size=batch)), dtype=torch.int64)
    valid = torch.arange(frames)[None, None, :] < lengths[:, None, None]
    return codes.masked_fill(~valid, GARBAGE), lengths, size


def zeroed(codes: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Codes with padding frames set to zero (what inverses return)."""
    valid = torch.arange(codes.shape[2])[None, None, :] < lengths[:, None, None]
    return codes.masked_fill(~valid, 0)


def assert_codes(out: CodeBatch, codes: torch.Tensor, lengths: torch.Tensor) -> None:
    assert out.codes.dtype == torch.int64
    assert torch.equal(out.lengths, lengths)
    frames = out.codes.shape[2]
    assert frames >= int(lengths.max())
    expected = zeroed(codes, lengths)[:, :, :frames]
    assert torch.equal(out.codes, torch.nn.functional.pad(expected, (0, frames - expected.shape[2])))


def make_tokens(codes: torch.Tensor, lengths: torch.Tensor, size: int, semantic: int = 1) -> Tokens:
    return Tokens(
        codes=zeroed(codes, lengths),
        lengths=lengths,
        audio_lengths=lengths * 320,
        sample_rate=16000,
        frame_rate=50.0,
        codebook_size=size,
        num_semantic_codebooks=semantic,
    )


# --------------------------------------------------------------------------- flatten


@FAST
@given(batches(), st.integers(0, 1000), st.integers(-5, -1))
def test_flatten_round_trip_and_order(data, offset: int, pad_id: int) -> None:
    codes, lengths, size = data
    batch, books, frames = codes.shape
    flat = flatten(codes, lengths, codebook_size=size, offset=offset, pad_id=pad_id)
    assert flat.ids.shape == (batch, books * frames)
    assert torch.equal(flat.lengths, lengths * books)
    for b in range(batch):
        reference = [offset + k * size + int(codes[b, k, f]) for f in range(int(lengths[b])) for k in range(books)]
        row = flat.ids[b].tolist()
        assert row[: len(reference)] == reference
        assert set(row[len(reference) :]) <= {pad_id}
    assert_codes(unflatten(flat), codes, lengths)
    raw = unflatten(flat.ids, flat.lengths, num_codebooks=books, codebook_size=size, offset=offset)
    assert_codes(raw, codes, lengths)


@FAST
@given(batches())
def test_flatten_accepts_tokens(data) -> None:
    codes, lengths, size = data
    tokens = make_tokens(codes, lengths, size)
    assert torch.equal(flatten(tokens).ids, flatten(codes, lengths, codebook_size=size).ids)


def test_unflatten_of_trimmed_ids() -> None:
    ids = torch.tensor([[0, 5, 1, 6, 2]])  # K = 2, C = 5; width not a multiple of K
    out = unflatten(ids, torch.tensor([4]), num_codebooks=2, codebook_size=5)
    assert out.codes.tolist() == [[[0, 1, 0], [0, 1, 0]]]
    assert out.lengths.tolist() == [2]


# --------------------------------------------------------------------------- delay


@FAST
@given(batches(), st.data(), st.integers(-3, 2000))
def test_delay_round_trip(data, draw, pad_id: int) -> None:
    codes, lengths, _ = data
    batch, books, frames = codes.shape
    delays = draw.draw(st.none() | st.lists(st.integers(0, 4), min_size=books, max_size=books))
    shifts = list(range(books)) if delays is None else delays
    longest = max(shifts)
    out = delay(codes, lengths, delays=delays, pad_id=pad_id)
    assert out.ids.shape == out.mask.shape == (batch, books, frames + longest)
    assert out.mask.dtype == torch.bool
    assert torch.equal(out.lengths, lengths + longest)
    assert out.delays == tuple(shifts)
    for b in range(batch):
        for k in range(books):
            for t in range(frames + longest):
                src = t - shifts[k]
                inside = 0 <= src < int(lengths[b])
                assert bool(out.mask[b, k, t]) == inside
                assert int(out.ids[b, k, t]) == (int(codes[b, k, src]) if inside else pad_id)
    assert_codes(undelay(out), codes, lengths)
    # hole contents do not matter to the inverse
    scrambled = out.ids.masked_fill(~out.mask, 123456)
    assert_codes(undelay(scrambled, out.lengths, delays=delays), codes, lengths)


def test_delay_default_pattern() -> None:
    codes = torch.tensor([[[1, 2, 3], [4, 5, 6], [7, 8, 9]]])
    out = delay(codes, torch.tensor([3]), pad_id=0)
    assert out.ids.tolist() == [[[1, 2, 3, 0, 0], [0, 4, 5, 6, 0], [0, 0, 7, 8, 9]]]
    assert out.lengths.tolist() == [5]


# --------------------------------------------------------------------------- coarse first


@FAST
@given(batches(), st.data(), st.integers(0, 500))
def test_coarse_first_round_trip_and_order(data, draw, offset: int) -> None:
    codes, lengths, size = data
    batch, books, frames = codes.shape
    semantic = draw.draw(st.integers(1, books))
    high = offset + books * size
    sep_id = draw.draw(st.none() | st.integers(high, high + 3))
    out = coarse_first(
        codes, lengths, num_semantic_codebooks=semantic, codebook_size=size, offset=offset, sep_id=sep_id
    )
    sep = int(sep_id is not None)
    assert out.ids.shape == (batch, books * frames + sep)
    assert torch.equal(out.lengths, books * lengths + sep)
    for b in range(batch):
        n = int(lengths[b])
        ids = lambda ks, b=b, n=n: [offset + k * size + int(codes[b, k, f]) for f in range(n) for k in ks]  # noqa: E731
        reference = ids(range(semantic)) + ([sep_id] if sep else []) + ids(range(semantic, books))
        row = out.ids[b].tolist()
        assert row[: len(reference)] == reference
        assert set(row[len(reference) :]) <= {-1}
    assert_codes(split_coarse_first(out), codes, lengths)
    raw = split_coarse_first(
        out.ids,
        out.lengths,
        num_codebooks=books,
        num_semantic_codebooks=semantic,
        codebook_size=size,
        offset=offset,
        sep_id=sep_id,
    )
    assert_codes(raw, codes, lengths)


@FAST
@given(batches(max_books=3))
def test_coarse_first_reads_semantic_count_from_tokens(data) -> None:
    codes, lengths, size = data
    semantic = codes.shape[1]  # S == K: no acoustic codebooks
    tokens = make_tokens(codes, lengths, size, semantic=semantic)
    out = coarse_first(tokens, sep_id=books_end(tokens))
    assert out.num_semantic_codebooks == semantic
    assert_codes(split_coarse_first(out), codes, lengths)


def books_end(tokens: Tokens) -> int:
    return tokens.num_codebooks * tokens.codebook_size


# --------------------------------------------------------------------------- text interleaving


@st.composite
def alignments(draw: st.DrawFn, lengths: list[int], frame_rate: float, text_ids: st.SearchStrategy[int]):
    """Per item: sorted (start, end, ids) words, some starting past the item's end."""
    items = []
    for n in lengths:
        duration = n / frame_rate + 0.1
        starts = sorted(draw(st.lists(st.integers(0, int(duration * 100)), max_size=5)))
        words = []
        for start in starts:
            end = start + draw(st.integers(0, 30))
            words.append((start / 100, end / 100, draw(st.lists(text_ids, max_size=3))))
        items.append(words)
    return items


def reference_interleave(semantic_ids: list[list[int]], words, frame_rate: float) -> list[int]:
    """Text of a word goes right before the first frame whose start time is >= the word's start."""
    n = len(semantic_ids)

    def anchor(start: float) -> int:
        return next((f for f in range(n) if f / frame_rate >= start - 1e-9), n)

    out: list[int] = []
    for f in range(n + 1):
        for start, _, text in words:
            if anchor(start) == f:
                out += text
        if f < n:
            out += semantic_ids[f]
    return out


@FAST
@given(batches(max_books=2), st.sampled_from([12.5, 25.0, 50.0, 75.0]), st.integers(0, 300), st.data())
def test_interleave_text_matches_reference_and_inverts(data, frame_rate: float, offset: int, draw) -> None:
    codes, lengths, size = data
    books = codes.shape[1]
    high = offset + books * size
    text_ids = st.integers(0, offset - 1) if offset else st.integers(high, high + 50)
    aligned = draw.draw(alignments(lengths.tolist(), frame_rate, text_ids))
    out = interleave_text(codes, aligned, lengths, frame_rate=frame_rate, codebook_size=size, offset=offset)
    for b, words in enumerate(aligned):
        n = int(lengths[b])
        semantic_ids = [[offset + k * size + int(codes[b, k, f]) for k in range(books)] for f in range(n)]
        reference = reference_interleave(semantic_ids, words, frame_rate)
        assert int(out.lengths[b]) == len(reference)
        assert out.ids[b, : len(reference)].tolist() == reference
        assert int(out.is_text[b].sum()) == sum(len(w[2]) for w in words)
        assert set(out.ids[b, len(reference) :].tolist()) <= {-1}
    assert_codes(deinterleave(out), codes, lengths)


def test_interleave_text_uses_tokens_semantic_books() -> None:
    codes = torch.tensor([[[0, 1, 2], [3, 3, 3]]])
    tokens = Tokens(codes, torch.tensor([3]), torch.tensor([960]), 16000, 50.0, 4, 1)
    out = interleave_text(tokens, [[(0.0, 0.02, [100]), (0.03, 0.06, [101, 102])]], offset=10)
    assert out.ids.tolist() == [[100, 10, 11, 101, 102, 12]]
    assert out.num_codebooks == 1
    assert deinterleave(out).codes.tolist() == [[[0, 1, 2]]]


# --------------------------------------------------------------------------- vocabulary


@FAST
@given(st.integers(1, 4), st.integers(1, 30), st.integers(0, 100), st.data())
def test_vocabulary_ids_parse_and_strings(books: int, size: int, text: int, draw) -> None:
    vocab = Vocabulary(books, size, text_vocab_size=text)
    strings = vocab.token_strings()
    assert vocab.size == text + books * size + 4
    assert len(strings) == len(set(strings)) == vocab.size - vocab.audio_offset
    k = draw.draw(st.integers(0, books - 1))
    code = draw.draw(st.integers(0, size - 1))
    token = vocab.id_of(k, code)
    assert token == vocab.codebook_offset(k) + code
    assert vocab.parse(token) == (k, code)
    assert strings[token - vocab.audio_offset] == vocab.token_string(token) == f"<|sc_{k}_{code}|>"
    specials = [vocab.bos_id, vocab.eos_id, vocab.pad_id, vocab.sep_id]
    assert specials == list(range(text + books * size, vocab.size))
    assert [vocab.parse(i) for i in specials] == ["bos", "eos", "pad", "sep"]
    assert strings[-4:] == ["<|sc_bos|>", "<|sc_eos|>", "<|sc_pad|>", "<|sc_sep|>"]


@FAST
@given(batches())
def test_vocabulary_drives_layouts(data) -> None:
    codes, lengths, size = data
    vocab = Vocabulary(codes.shape[1], size, text_vocab_size=50)
    flat = flatten(codes, lengths, codebook_size=size, offset=vocab.audio_offset, pad_id=vocab.pad_id)
    assert all(vocab.audio_offset <= i < vocab.size for i in flat.ids.flatten().tolist())
    for b in range(codes.shape[0]):
        for i, token in enumerate(flat.ids[b, : int(flat.lengths[b])].tolist()):
            k, f = i % codes.shape[1], i // codes.shape[1]
            assert vocab.parse(token) == (k, int(codes[b, k, f]))
    assert torch.equal(vocab.id_of(0, codes[:, 0].clamp(min=0)), codes[:, 0].clamp(min=0) + 50)


def test_vocabulary_custom_specials_and_prefix() -> None:
    vocab = Vocabulary(1, 2, special_tokens=("bos", "eos"), prefix="au")
    assert vocab.token_strings() == ["<|au_0_0|>", "<|au_0_1|>", "<|au_bos|>", "<|au_eos|>"]
    with pytest.raises(ValueError, match="no special token 'sep'"):
        _ = vocab.sep_id
    assert Vocabulary.from_tokens(make_tokens(torch.zeros(1, 3, 2, dtype=torch.int64), torch.tensor([2]), 8)).size == 28


# --------------------------------------------------------------------------- errors

CODES = torch.tensor([[[0, 1, 2], [1, 2, 3]]])
LENGTHS = torch.tensor([3])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: flatten(CODES.float(), LENGTHS, codebook_size=4), "codes must be int64"),
        (lambda: flatten(CODES[0], LENGTHS, codebook_size=4), r"codes must be \[B, K, F\]"),
        (lambda: flatten(CODES, None, codebook_size=4), "lengths .* is required"),
        (lambda: flatten(CODES, LENGTHS), "codebook_size is required"),
        (lambda: flatten(CODES, torch.tensor([4]), codebook_size=4), r"lengths must be in \[0, 3\]"),
        (lambda: flatten(CODES, torch.tensor([3, 3]), codebook_size=4), r"lengths must have shape \[1\]"),
        (lambda: flatten(CODES, LENGTHS.float(), codebook_size=4), "integer tensor"),
        (lambda: flatten(CODES, LENGTHS, codebook_size=3), r"codes\[0, 1, 2\] = 3 is outside \[0, 3\)"),
        (lambda: flatten(CODES, LENGTHS, codebook_size=4, pad_id=5), r"collides with the audio id range \[0, 8\)"),
        (lambda: flatten(CODES, LENGTHS, codebook_size=4, offset=-1), "offset must be an int >= 0"),
        (
            lambda: unflatten(torch.tensor([[0, 4, 1]]), torch.tensor([3]), num_codebooks=2, codebook_size=4),
            "lengths\\[0\\] = 3 is not a multiple of num_codebooks 2",
        ),
        (
            lambda: unflatten(torch.tensor([[0, 3]]), torch.tensor([2]), num_codebooks=2, codebook_size=4),
            r"ids\[0, 1\] = 3 is outside codebook 1's range \[4, 8\)",
        ),
        (
            lambda: unflatten(torch.tensor([[0, 4]]), torch.tensor([2]), num_codebooks=2, codebook_size=4, offset=1),
            r"ids\[0, 0\] = 0 is outside codebook 0's range \[1, 5\)",
        ),
        (lambda: unflatten(torch.tensor([[0, 4]]), torch.tensor([2])), "num_codebooks and codebook_size are required"),
        (lambda: delay(CODES, LENGTHS, delays=[0]), "delays must be 2 non-negative ints"),
        (lambda: delay(CODES, LENGTHS, delays=[0, -1]), "delays must be 2 non-negative ints"),
        (lambda: undelay(torch.zeros(1, 2, 3, dtype=torch.int64), torch.tensor([0])), "lengths must be >= max delay 1"),
        (lambda: undelay(torch.zeros(1, 3, 1, dtype=torch.int64), torch.tensor([1])), "fewer than max delay 2"),
        (lambda: coarse_first(CODES, LENGTHS, codebook_size=4), "num_semantic_codebooks is required"),
        (lambda: coarse_first(CODES, LENGTHS, codebook_size=4, num_semantic_codebooks=3), r"must be in \[1, 2\]"),
        (lambda: coarse_first(CODES, LENGTHS, codebook_size=4, num_semantic_codebooks=0), "must be an int >= 1"),
        (
            lambda: coarse_first(CODES, LENGTHS, codebook_size=4, num_semantic_codebooks=1, sep_id=2),
            "sep_id 2 collides",
        ),
        (
            lambda: split_coarse_first(
                torch.tensor([[0, 8, 4]]), torch.tensor([3]), num_codebooks=2, num_semantic_codebooks=1, codebook_size=4
            ),
            r"lengths\[0\] = 3 is not 2 \* frames \+ 0",
        ),
        (
            lambda: split_coarse_first(
                torch.tensor([[0, 9, 4]]),
                torch.tensor([3]),
                num_codebooks=2,
                num_semantic_codebooks=1,
                codebook_size=4,
                sep_id=8,
            ),
            r"ids\[0, 1\] = 9, expected the separator 8",
        ),
        (
            lambda: split_coarse_first(
                torch.tensor([[0, 8, 1]]),
                torch.tensor([3]),
                num_codebooks=2,
                num_semantic_codebooks=1,
                codebook_size=4,
                sep_id=8,
            ),
            r"ids\[0, 2\] = 1 is outside codebook 1's range \[4, 8\)",
        ),
        (lambda: interleave_text(CODES, [[]], LENGTHS, codebook_size=4), "frame_rate must be a positive number"),
        (lambda: interleave_text(CODES, [], LENGTHS, codebook_size=4, frame_rate=50), "one list per item"),
        (
            lambda: interleave_text(CODES, [[(0.0, 0.1, [3])]], LENGTHS, codebook_size=4, frame_rate=50),
            r"text id 3 must be >= 0 and outside the audio id range \[0, 8\)",
        ),
        (
            lambda: interleave_text(CODES, [[(0.2, 0.1, [9])]], LENGTHS, codebook_size=4, frame_rate=50),
            "start_s <= end_s",
        ),
        (
            lambda: interleave_text(CODES, [[(0.2, [9])]], LENGTHS, codebook_size=4, frame_rate=50),
            r"must be \(start_s, end_s, \[text ids\]\)",
        ),
        (
            lambda: deinterleave(torch.tensor([[4, 0, 9]]), torch.tensor([3]), num_codebooks=2, codebook_size=4),
            "audio id 4 is codebook 1, expected codebook 0",
        ),
        (
            lambda: deinterleave(torch.tensor([[0, 9, 4, 1]]), torch.tensor([4]), num_codebooks=2, codebook_size=4),
            "item 0 has 3 audio ids, not a multiple of num_codebooks 2",
        ),
        (lambda: flatten(make_tokens(CODES, LENGTHS, 4), LENGTHS), "pass lengths only with a raw codes tensor"),
        (lambda: flatten(make_tokens(CODES, LENGTHS, 4), codebook_size=8), "disagrees with the Tokens' 4"),
        (lambda: Vocabulary(0, 4), "num_codebooks must be an int >= 1"),
        (lambda: Vocabulary(1, 4, special_tokens=("bos", "bos")), "must be unique"),
        (lambda: Vocabulary(1, 4, special_tokens=("0_1",)), "must be names matching"),
        (lambda: Vocabulary(2, 4).id_of(2, 0), r"codebook index must be in \[0, 2\)"),
        (lambda: Vocabulary(2, 4).id_of(0, 4), r"code must be in \[0, 4\)"),
        (lambda: Vocabulary(2, 4).parse(12), r"id must be an int in \[0, 12\)"),
        (lambda: Vocabulary(2, 4, text_vocab_size=5).parse(4), "id 4 is a text id"),
    ],
)
def test_errors(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


# --------------------------------------------------------------------------- devices


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_layouts_on_cuda() -> None:
    codes, lengths = CODES.cuda(), LENGTHS.cuda()
    flat = flatten(codes, lengths, codebook_size=4, offset=3)
    assert flat.ids.is_cuda and torch.equal(unflatten(flat).codes, codes)
    assert torch.equal(undelay(delay(codes, lengths)).codes, codes)
    cf = coarse_first(codes, lengths, codebook_size=4, num_semantic_codebooks=1, sep_id=8)
    assert torch.equal(split_coarse_first(cf).codes, codes)
    it = interleave_text(codes, [[(0.0, 0.1, [9])]], lengths, codebook_size=4, frame_rate=50)
    assert it.ids.is_cuda and torch.equal(deinterleave(it).codes, codes)


def test_empty_frames() -> None:
    codes = torch.zeros(2, 3, 0, dtype=torch.int64)
    lengths = torch.zeros(2, dtype=torch.int64)
    assert unflatten(flatten(codes, lengths, codebook_size=2)).codes.shape == (2, 3, 0)
    assert undelay(delay(codes, lengths)).codes.shape == (2, 3, 0)
    out = coarse_first(codes, lengths, codebook_size=2, num_semantic_codebooks=2, sep_id=6)
    assert out.ids.tolist() == [[6], [6]]
    assert split_coarse_first(out).codes.shape == (2, 3, 0)
    assert interleave_text(codes, [[], []], lengths, codebook_size=2, frame_rate=1).ids.shape == (2, 0)
