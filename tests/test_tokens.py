"""Tokens container: views, truncation, batching and the safetensors file format."""

from __future__ import annotations

import pytest
import torch

from codec.tokens import Tokens


def make_tokens(codebook_size: int = 1024) -> Tokens:
    codes = torch.randint(0, codebook_size, (3, 8, 10))
    lengths = torch.tensor([10, 7, 1])
    codes = codes.masked_fill(torch.arange(10)[None, None] >= lengths[:, None, None], 0)
    return Tokens(codes, lengths, lengths * 320 - 5, 16000, 50.0, codebook_size, 2, "m@123")


def test_views_and_truncate():
    tokens = make_tokens()
    assert tokens.semantic.shape == (3, 2, 10) and tokens.acoustic.shape == (3, 6, 10)
    assert tokens.mask().sum().item() == 18
    cut = tokens.truncate(1)
    assert cut.num_codebooks == 1 and cut.num_semantic_codebooks == 1 and cut.acoustic.shape[1] == 0
    assert tokens.bitrate == 8 * 50 * 10
    with pytest.raises(ValueError, match=r"\[1, 8\]"):
        tokens.truncate(9)


@pytest.mark.parametrize("codebook_size", [1024, 65536])
def test_save_load_round_trip(tmp_path, codebook_size):
    tokens = make_tokens(codebook_size)
    tokens.save(tmp_path / "t.safetensors")
    loaded = Tokens.load(tmp_path / "t.safetensors")
    assert loaded.codes.dtype == torch.int64 and torch.equal(loaded.codes, tokens.codes)
    assert torch.equal(loaded.lengths, tokens.lengths) and torch.equal(loaded.audio_lengths, tokens.audio_lengths)
    for name in ("sample_rate", "frame_rate", "codebook_size", "num_semantic_codebooks", "model_id"):
        assert getattr(loaded, name) == getattr(tokens, name)
    assert [p.name for p in tmp_path.iterdir()] == ["t.safetensors"]


def test_unbatch_and_cat_are_inverse():
    tokens = make_tokens()
    items = tokens.unbatch()
    assert [t.num_frames for t in items] == [10, 7, 1]
    again = Tokens.cat(items)
    assert torch.equal(again.codes, tokens.codes) and torch.equal(again.lengths, tokens.lengths)


def test_load_rejects_other_files(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"garbage")
    with pytest.raises(ValueError, match=r"bad\.safetensors: not a tokens file"):
        Tokens.load(bad)
    from safetensors.torch import save_file

    save_file({"x": torch.zeros(2)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(ValueError, match="not a tokens file"):
        Tokens.load(tmp_path / "other.safetensors")


def test_invalid_construction():
    with pytest.raises(ValueError, match="int64"):
        Tokens(torch.zeros(1, 2, 3, dtype=torch.int32), torch.tensor([3]), torch.tensor([960]), 16000, 50.0, 8, 1)
    with pytest.raises(ValueError, match="exceeds"):
        Tokens(torch.zeros(1, 2, 3, dtype=torch.long), torch.tensor([4]), torch.tensor([960]), 16000, 50.0, 8, 1)
