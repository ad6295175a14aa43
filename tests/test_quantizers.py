"""Quantizer kinds (rvq, fsq) against the Quantizer contract: shapes, prefixes, round trips, dropout, masks."""

from __future__ import annotations

import copy

import pytest
import torch

from codec.models.interfaces import CodecShape, Quantizer
from codec.quantization.fsq import FSQConfig, ResidualFSQuantizer
from codec.quantization.rvq import ResidualQuantizer, RVQConfig

SHAPE = CodecShape(16000, 320, 12, False)


def make(kind: str, **kw) -> Quantizer:
    torch.manual_seed(0)
    if kind == "rvq":
        return ResidualQuantizer(
            RVQConfig(num_codebooks=3, codebook_size=16, codebook_dim=4, kmeans_init=False, **kw), SHAPE
        )
    return ResidualFSQuantizer(FSQConfig(num_codebooks=3, levels=(5, 3, 3), **kw), SHAPE)


def latent(batch: int = 2, frames: int = 7) -> torch.Tensor:
    return torch.randn(batch, 12, frames, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("kind", ["rvq", "fsq"])
def test_contract_shapes_prefixes_and_round_trip(kind):
    q = make(kind).eval()
    assert isinstance(q, Quantizer) and q.num_codebooks == 3 and q.num_semantic_codebooks == 1
    x = latent()
    codes = q.encode(x)
    assert codes.dtype == torch.int64 and codes.shape == (2, 3, 7)
    assert 0 <= int(codes.min()) and int(codes.max()) < q.codebook_size
    for k in (1, 2):
        assert torch.equal(q.encode(x, k), codes[:, :k])
    out = q(x)
    assert torch.equal(out.codes, codes)
    torch.testing.assert_close(q.decode(codes), out.quantized, atol=1e-5, rtol=0)
    torch.testing.assert_close(q.decode(codes[:, :1]), out.semantic_quantized, atol=1e-5, rtol=0)


@pytest.mark.parametrize("kind", ["rvq", "fsq"])
def test_training_dropout_keeps_a_prefix_per_item_and_masks_codes(kind):
    q = make(kind, dropout_probability=1.0)
    before = copy.deepcopy(q).eval()  # the RVQ's EMA moves its codebooks during the training pass
    q.train()
    x = latent(batch=16)
    mask = torch.ones(16, 7, dtype=torch.bool)
    mask[0, 4:] = False
    out = q(x, mask=mask)
    assert ((1 <= out.num_codebooks_used) & (out.num_codebooks_used <= 3)).all()
    assert len(set(out.num_codebooks_used.tolist())) > 1
    assert out.codes[0, :, 4:].abs().sum() == 0
    for b in range(1, 4):
        k = int(out.num_codebooks_used[b])
        torch.testing.assert_close(out.quantized[b : b + 1], before.decode(out.codes[b : b + 1, :k]), atol=1e-4, rtol=0)
    assert out.commitment_loss.dim() == 0


def test_rvq_refuses_uninitialised_kmeans_codebooks():
    q = ResidualQuantizer(RVQConfig(num_codebooks=2, codebook_size=8, codebook_dim=4, kmeans_init=True), SHAPE).eval()
    with pytest.raises(ValueError, match="not initialised"):
        q.encode(latent())
    q.train()(latent())  # the first training pass runs k-means
    q.check_initialised()


@pytest.mark.parametrize("kind", ["rvq", "fsq"])
def test_statistics_come_from_the_quantizer(kind):
    q = make(kind).eval()
    codes = q.encode(latent())
    stats = q.codebook_stats(codes, torch.tensor([7, 3]))
    assert {f"perplexity_{k}" for k in range(3)} <= set(stats) and {f"used_{k}" for k in range(3)} <= set(stats)
    assert ("dead_0" in stats) == (kind == "rvq")
