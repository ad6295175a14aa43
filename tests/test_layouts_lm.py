"""Round trips, reference orderings and errors of the generation-strategy and text + speech layouts."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from codec.layouts import (
    CodeBatch,
    Vocabulary,
    delay,
    depth,
    frame_inputs,
    from_two_stage,
    from_within_frame,
    join_stages,
    padded_text,
    parallel,
    ratio_interleave,
    sequential,
    split_padded_text,
    split_ratio_interleave,
    split_sequential,
    split_word_aligned,
    two_stage,
    undelay,
    undepth,
    unflatten,
    within_frame,
    word_aligned,
)
from tests.test_layouts import FAST, assert_codes, batches, make_tokens


def audio_id(offset: int, size: int, k: int, code: int) -> int:
    return offset + k * size + code


# --------------------------------------------------------------------------- parallel


@FAST
@given(batches(), st.integers(-3, 50))
def test_parallel_is_delay_with_zero_delays(data, pad_id: int) -> None:
    codes, lengths, size = data
    out = parallel(codes, lengths, pad_id=pad_id)
    assert out.delays == (0,) * codes.shape[1]
    assert torch.equal(out.lengths, lengths)
    valid = torch.arange(codes.shape[2])[None, None, :] < lengths[:, None, None]
    assert torch.equal(out.ids, codes.masked_fill(~valid, pad_id))
    assert torch.equal(out.mask, valid.expand_as(codes))
    assert torch.equal(out.ids, delay(codes, lengths, delays=[0] * codes.shape[1], pad_id=pad_id).ids)
    assert_codes(undelay(out), codes, lengths)
    assert torch.equal(parallel(make_tokens(codes, lengths, size)).ids, parallel(codes, lengths).ids)


# --------------------------------------------------------------------------- two stages


@FAST
@given(batches(), st.data(), st.integers(0, 300))
def test_two_stage_views_and_inverse(data, draw, offset: int) -> None:
    codes, lengths, size = data
    batch, books, _ = codes.shape
    semantic = draw.draw(st.integers(1, books))
    sep = offset + books * size
    out = two_stage(
        codes, lengths, num_semantic_codebooks=semantic, codebook_size=size, offset=offset, sep_id=sep, pad_id=sep + 1
    )
    assert torch.equal(out.prompt_lengths, semantic * lengths + 1)
    for b in range(batch):
        n = int(lengths[b])
        stage1 = [audio_id(offset, size, k, int(codes[b, k, f])) for f in range(n) for k in range(semantic)]
        assert out.coarse.ids[b, : len(stage1)].tolist() == stage1
        assert int(out.coarse.lengths[b]) == len(stage1)
        fine = out.fine.ids[b].tolist()
        target = [i for i, t in zip(fine, out.fine_target[b].tolist()) if t]
        assert target == [
            audio_id(offset, size, k, int(codes[b, k, f])) for f in range(n) for k in range(semantic, books)
        ]
        assert fine[: semantic * n + 1] == stage1 + [sep]
    assert_codes(from_two_stage(out), codes, lengths)
    # what two models would produce: stage 1's semantic codes, stage 2's acoustic codes
    first = unflatten(out.coarse)
    second = CodeBatch(from_two_stage(out).codes[:, semantic:], lengths)
    assert_codes(join_stages(first, second), codes, lengths)


def test_join_stages_errors() -> None:
    a = CodeBatch(torch.zeros(1, 1, 3, dtype=torch.int64), torch.tensor([3]))
    with pytest.raises(ValueError, match="item 0 has 3 semantic frames but 2 acoustic frames"):
        join_stages(a, CodeBatch(torch.zeros(1, 2, 3, dtype=torch.int64), torch.tensor([2])))
    with pytest.raises(ValueError, match="batch sizes differ"):
        join_stages(a, CodeBatch(torch.zeros(2, 2, 3, dtype=torch.int64), torch.tensor([3, 3])))
    with pytest.raises(ValueError, match="needs a sep_id"):
        two_stage(a.codes, a.lengths, num_semantic_codebooks=1, codebook_size=2, sep_id=None)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- depth


@FAST
@given(batches(), st.integers(0, 300))
def test_depth_round_trip_and_views(data, offset: int) -> None:
    codes, lengths, size = data
    batch, books, frames = codes.shape
    pad, bos = offset + books * size, offset + books * size + 1
    out = depth(codes, lengths, codebook_size=size, offset=offset, pad_id=pad)
    assert out.ids.shape == (batch, frames, books)
    inputs = frame_inputs(out, bos)
    rows = within_frame(out)
    assert rows.ids.shape == (int(lengths.sum()), books)
    r = 0
    for b in range(batch):
        n = int(lengths[b])
        for f in range(frames):
            group = [audio_id(offset, size, k, int(codes[b, k, f])) for k in range(books)]
            assert out.ids[b, f].tolist() == (group if f < n else [pad] * books)
            previous = [bos] * books if f == 0 else out.ids[b, f - 1].tolist()
            assert inputs[b, f].tolist() == (previous if f < n else [pad] * books)
            if f < n:
                assert (rows.ids[r].tolist(), int(rows.item[r]), int(rows.frame[r])) == (group, b, f)
                r += 1
    assert_codes(undepth(out), codes, lengths)
    assert_codes(undepth(out.ids, lengths, codebook_size=size, offset=offset), codes, lengths)
    rebuilt = from_within_frame(rows)
    assert torch.equal(rebuilt.ids, out.ids) and torch.equal(rebuilt.lengths, lengths)
    assert torch.equal(from_within_frame(rows.ids.clone(), like=rows).ids, out.ids)


# --------------------------------------------------------------------------- one-stream text + speech


@st.composite
def text_batches(draw: st.DrawFn, max_books: int = 3):
    """(codes, lengths, vocab, texts): ragged text per item, ids inside the vocabulary's text range."""
    codes, lengths, size = draw(batches(max_books=max_books))
    vocab = Vocabulary(codes.shape[1], size, text_vocab_size=draw(st.integers(1, 30)))
    texts = [draw(st.lists(st.integers(0, vocab.text_vocab_size - 1), max_size=7)) for _ in range(codes.shape[0])]
    return codes, lengths, vocab, texts


def frames_of(vocab: Vocabulary, codes: torch.Tensor, b: int, f: int) -> list[int]:
    return [vocab.id_of(k, int(codes[b, k, f])) for k in range(codes.shape[1])]


@FAST
@given(text_batches())
def test_sequential_round_trip(data) -> None:
    codes, lengths, vocab, texts = data
    out = sequential(codes, texts, lengths, vocab=vocab)
    for b, text in enumerate(texts):
        speech = [i for f in range(int(lengths[b])) for i in frames_of(vocab, codes, b, f)]
        reference = text + [vocab.sep_id] + speech
        assert out.ids[b, : len(reference)].tolist() == reference
        assert int(out.lengths[b]) == len(reference)
        assert out.is_text[b, : len(reference)].tolist() == [True] * len(text) + [False] * (1 + len(speech))
        assert set(out.ids[b, len(reference) :].tolist()) <= {vocab.pad_id}
    back = split_sequential(out)
    assert [list(t) for t in back.texts] == texts
    assert_codes(back.codes, codes, lengths)
    assert back.texts == split_sequential(out.ids, out.lengths, vocab=vocab).texts


def reference_ratio(text: list[int], frames: list[list[int]], n: int, m: int) -> list[int]:
    out: list[int] = []
    for c in range(max(-(-len(text) // n), -(-len(frames) // m), 0)):
        out += text[c * n : (c + 1) * n] + [i for fr in frames[c * m : (c + 1) * m] for i in fr]
    return out


@FAST
@given(text_batches(), st.integers(1, 4), st.integers(1, 4))
def test_ratio_interleave_round_trip(data, n: int, m: int) -> None:
    codes, lengths, vocab, texts = data
    out = ratio_interleave(codes, texts, lengths, vocab=vocab, text_per_chunk=n, frames_per_chunk=m)
    for b, text in enumerate(texts):
        reference = reference_ratio(text, [frames_of(vocab, codes, b, f) for f in range(int(lengths[b]))], n, m)
        assert out.ids[b, : int(out.lengths[b])].tolist() == reference
    back = split_ratio_interleave(out)
    assert [list(t) for t in back.texts] == texts
    assert_codes(back.codes, codes, lengths)
    raw = split_ratio_interleave(out.ids, out.lengths, vocab=vocab, text_per_chunk=n, frames_per_chunk=m)
    assert raw.texts == back.texts


# --------------------------------------------------------------------------- parallel text + speech streams


def assert_audio_rows(ids: torch.Tensor, codes: torch.Tensor, lengths: torch.Tensor, vocab: Vocabulary) -> None:
    for b in range(codes.shape[0]):
        for f in range(codes.shape[2]):
            expected = frames_of(vocab, codes, b, f) if f < int(lengths[b]) else [vocab.pad_id] * codes.shape[1]
            assert ids[b, 1:, f].tolist() == expected


@FAST
@given(text_batches())
def test_padded_text_round_trip(data) -> None:
    codes, lengths, vocab, texts = data
    texts = [t[: int(n)] for t, n in zip(texts, lengths)]  # text must fit its speech
    out = padded_text(codes, texts, lengths, vocab=vocab)
    assert out.ids.shape == (codes.shape[0], 1 + codes.shape[1], codes.shape[2])
    for b, text in enumerate(texts):
        assert out.ids[b, 0].tolist() == text + [vocab.pad_id] * (codes.shape[2] - len(text))
    assert_audio_rows(out.ids, codes, lengths, vocab)
    back = split_padded_text(out)
    assert [list(t) for t in back.texts] == texts and back.words is None
    assert_codes(back.codes, codes, lengths)


@st.composite
def word_batches(draw: st.DrawFn):
    """Codes plus valid word alignments: words at frame-aligned times, each leaving a pad before the next."""
    codes, lengths, vocab, _ = draw(text_batches())
    rate = draw(st.sampled_from([12.5, 25.0, 50.0]))
    alignments, placed = [], []
    for n in lengths.tolist():
        f, words, item = 0, [], []
        while f < n and draw(st.booleans()):
            f += draw(st.integers(0, 2))
            ids = draw(st.lists(st.integers(0, vocab.text_vocab_size - 1), min_size=1, max_size=3))
            if f + len(ids) > n:
                break
            jitter = draw(st.floats(0, 0.9)) if f else 0.0  # any start inside (f - 1, f] anchors to frame f
            words.append(((f - jitter) / rate, (f + len(ids)) / rate, ids))
            item.append((f, tuple(ids)))
            f += len(ids) + 1
        alignments.append(words)
        placed.append(tuple(item))
    return codes, lengths, vocab, rate, alignments, placed


@FAST
@given(word_batches())
def test_word_aligned_round_trip(data) -> None:
    codes, lengths, vocab, rate, alignments, placed = data
    out = word_aligned(codes, alignments, lengths, vocab=vocab, frame_rate=rate)
    for b, words in enumerate(placed):
        row = [vocab.pad_id] * codes.shape[2]
        for f, ids in words:
            row[f : f + len(ids)] = ids
        assert out.ids[b, 0].tolist() == row
    assert_audio_rows(out.ids, codes, lengths, vocab)
    back = split_word_aligned(out)
    assert back.words == tuple(placed)
    assert back.texts == tuple(tuple(t for _, w in item for t in w) for item in placed)
    assert_codes(back.codes, codes, lengths)
    assert split_word_aligned(out.ids, out.lengths, vocab=vocab).words == back.words


def test_streams_compose_with_delay() -> None:
    vocab = Vocabulary(2, 4, text_vocab_size=10)
    tokens = make_tokens(torch.tensor([[[1, 2, 3], [0, 1, 2]]]), torch.tensor([3]), 4)
    streams = word_aligned(tokens, [[(0.0, 0.02, [7]), (0.04, 0.06, [8])]], vocab=vocab)
    moshi = delay(streams.ids, streams.lengths, delays=[0, 0, 1], pad_id=vocab.pad_id)
    assert moshi.ids.tolist() == [[[7, 20, 8, 20], [11, 12, 13, 20], [20, 14, 15, 16]]]
    back = undelay(moshi)
    assert split_word_aligned(back.codes, back.lengths, vocab=vocab).words == (((0, (7,)), (2, (8,))),)


V = Vocabulary(2, 4, text_vocab_size=10)  # audio ids 10..17, specials bos 18, eos 19, pad 20, sep 21
C = torch.tensor([[[0, 1, 2], [3, 2, 1]]])
N = torch.tensor([3])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: sequential(C, [[1]], N, vocab=Vocabulary(3, 4, 10)), "codes have 2 codebooks, the Vocabulary 3"),
        (
            lambda: sequential(make_tokens(C, N, 4), [[1]], vocab=Vocabulary(2, 8, 10)),
            "codebook_size 8 disagrees with the Tokens' 4",
        ),
        (lambda: sequential(C, [[10]], N, vocab=V), r"texts\[0\] has id 10, outside the text range \[0, 10\)"),
        (lambda: sequential(C, [[1], [2]], N, vocab=V), r"texts must have one entry per item \(1\), got 2"),
        (lambda: sequential(C, [[1]], N, vocab=None), "vocab must be a Vocabulary"),  # type: ignore[arg-type]
        (lambda: split_sequential(torch.tensor([[1, 10, 14]]), torch.tensor([3]), vocab=V), "no separator 21"),
        (
            lambda: split_sequential(torch.tensor([[12, 21, 10, 14]]), torch.tensor([4]), vocab=V),
            r"ids\[0, 0\] = 12 is not a text id",
        ),
        (
            lambda: split_sequential(torch.tensor([[1, 21, 10, 10]]), torch.tensor([4]), vocab=V),
            r"ids\[0, 3\] = 10 is outside codebook 1's range \[14, 18\)",
        ),
        (
            lambda: split_sequential(torch.tensor([[1, 21, 10]]), torch.tensor([3]), vocab=V),
            "item 0 has 1 speech ids, not a multiple of num_codebooks 2",
        ),
        (
            lambda: ratio_interleave(C, [[1]], N, vocab=V, text_per_chunk=0, frames_per_chunk=1),
            "text_per_chunk must be an int >= 1",
        ),
        (
            lambda: split_ratio_interleave(
                torch.tensor([[10, 14, 1, 11, 15]]), torch.tensor([5]), vocab=V, text_per_chunk=1, frames_per_chunk=1
            ),
            r"ids\[0, 0\] breaks the 1 text : 1 frame pattern",
        ),
        (
            lambda: split_ratio_interleave(torch.tensor([[1, 10, 14]]), torch.tensor([3]), vocab=V),
            "text_per_chunk must be an int >= 1",
        ),
        (lambda: split_ratio_interleave(sequential(C, [[1]], N, vocab=V)), "text_per_chunk must be an int >= 1"),
        (lambda: padded_text(C, [[1, 2, 3, 4]], N, vocab=V), r"texts\[0\] has 4 ids, more than its 3 speech frames"),
        (
            lambda: split_padded_text(
                torch.tensor([[[1, 20, 2], [10, 10, 10], [14, 14, 14]]]), torch.tensor([3]), vocab=V
            ),
            r"ids\[0, 0, 2\] = 2 is text after the padding began at frame 1",
        ),
        (
            lambda: split_padded_text(
                torch.tensor([[[1, 20, 20], [10, 10, 10], [14, 9, 14]]]), torch.tensor([3]), vocab=V
            ),
            r"ids\[0, 1 \+ 1, 1\] = 9 is outside codebook 1's range \[14, 18\)",
        ),
        (
            lambda: split_padded_text(
                torch.tensor([[[1, 19, 20], [10, 10, 10], [14, 14, 14]]]), torch.tensor([3]), vocab=V
            ),
            r"ids\[0, 0, 1\] = 19 is neither a text id nor the pad 20",
        ),
        (
            lambda: split_padded_text(torch.zeros(1, 2, 3, dtype=torch.int64), torch.tensor([3]), vocab=V),
            r"ids must have 1 \+ 2 rows",
        ),
        (lambda: word_aligned(C, [[(0.0, 0.1, [1])]], N, vocab=V), "frame_rate must be a positive number"),
        (
            lambda: word_aligned(C, [[(0.0, 0.02, [1]), (0.01, 0.04, [2])]], N, vocab=V, frame_rate=50),
            r"alignments\[0\]\[1\] starts at 0.01 s, before the previous word ends \(0.02 s\)",
        ),
        (
            lambda: word_aligned(C, [[(0.06, 0.08, [1])]], N, vocab=V, frame_rate=50),
            r"starts at 0.06 s \(frame 3\), past the end of item 0's 3 frames",
        ),
        (
            lambda: word_aligned(C, [[(0.0, 0.02, [1, 2]), (0.02, 0.04, [3])]], N, vocab=V, frame_rate=50),
            "text longer than its slot",
        ),
        (
            lambda: word_aligned(C, [[(0.02, 0.06, [1, 2, 3])]], N, vocab=V, frame_rate=50),
            r"has 3 text ids from frame 1, past the end of item 0's 3 frames",
        ),
        (lambda: word_aligned(C, [[(0.0, 0.02, [])]], N, vocab=V, frame_rate=50), "has no text ids"),
        (
            lambda: word_aligned(C, [[(0.0, 0.02, [12])]], N, vocab=V, frame_rate=50),
            r"alignments\[0\]\[0\] has id 12, outside the text range",
        ),
        (
            lambda: undepth(torch.tensor([[[0, 3]]]), torch.tensor([1]), codebook_size=4),
            r"ids\[0, 0, 1\] = 3 is outside codebook 1's range \[4, 8\)",
        ),
        (lambda: undepth(torch.tensor([[[0, 4]]]), torch.tensor([1])), "codebook_size is required"),
        (lambda: frame_inputs(depth(C, N, codebook_size=4), 5), "bos_id 5 collides with the audio id range"),
        (
            lambda: from_within_frame(
                torch.zeros(2, 2, dtype=torch.int64), like=within_frame(depth(C, N, codebook_size=4))
            ),
            r"rows must have shape \(3, 2\)",
        ),
        (
            lambda: from_within_frame(torch.full((3, 2), 9), like=within_frame(depth(C, N, codebook_size=4))),
            r"ids\[0, 0, 0\] = 9 is outside codebook 0's range \[0, 4\)",
        ),
    ],
)
def test_errors(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_k1_and_empty_items() -> None:
    codes = torch.tensor([[[2, 0, 1]], [[1, 1, 1]]])
    lengths = torch.tensor([3, 0])
    vocab = Vocabulary(1, 3, text_vocab_size=5)
    back = split_word_aligned(word_aligned(codes, [[(0.0, 0.1, [4, 4])], []], lengths, vocab=vocab, frame_rate=50))
    assert back.words == (((0, (4, 4)),), ()) and back.codes.lengths.tolist() == [3, 0]
    assert split_sequential(sequential(codes, [[], [1]], lengths, vocab=vocab)).texts == ((), (1,))
    d = depth(codes, lengths, codebook_size=3)
    assert within_frame(d).ids.tolist() == [[2], [0], [1]]
