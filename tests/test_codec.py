"""The tokenize/detokenize contract: lengths, batching, prefixes, checkpoints, bad tokens."""

from __future__ import annotations

import math
import pickle

import pytest
import torch

import codec
from codec.config import QuantizerConfig
from codec.models.codec import Codec
from codec.tokens import Tokens
from tests.conftest import make_model, speechlike, tiny_config

ARCHITECTURES = [
    dict(encoder="frame", decoder="vocoder", causal=False),
    dict(encoder="conv", decoder="conv", causal=True),
    dict(encoder="frame", decoder="vocoder", causal=True),
    dict(encoder="conv", decoder="vocoder", causal=False),
]


@pytest.mark.parametrize(
    "arch", ARCHITECTURES, ids=lambda a: f"{a['encoder']}-{a['decoder']}-{'causal' if a['causal'] else 'noncausal'}"
)
def test_lengths_contract_and_batch_equivalence(arch):
    model = make_model(**arch)
    g = torch.Generator().manual_seed(1)
    lengths = [int(n) for n in torch.randint(1, 16000, (5,), generator=g)] + [320, 321, 1]
    items = [speechlike(n / 16000, seed=i)[:n] for i, n in enumerate(lengths)]
    batch = model.tokenize(items, sample_rate=16000)
    assert batch.codes.shape == (len(items), 4, math.ceil(max(lengths) / 320))
    assert batch.lengths.tolist() == [math.ceil(n / 320) for n in lengths]
    assert batch.audio_lengths.tolist() == lengths
    for i, item in enumerate(items):
        single = model.tokenize(item, sample_rate=16000)
        n = int(single.lengths[0])
        assert single.codes.shape[-1] == n
        assert torch.equal(batch.codes[i, :, :n], single.codes[0]), f"item {i} differs when batched"
        assert not batch.codes[i, :, n:].any(), "padding frames must be zero"
    audio = model.detokenize(batch)
    assert audio.shape == (len(items), 1, max(lengths))
    for i, n in enumerate(lengths):
        one = model.detokenize(batch[i])
        assert one.shape == (1, 1, n)
        assert torch.allclose(audio[i, :, :n], one[0], atol=1e-5)
        assert not audio[i, :, n:].any()


def test_padded_tensor_input_with_lengths_equals_list_input(tiny_model):
    a, b = speechlike(0.5), speechlike(0.3, seed=3)
    padded = torch.zeros(2, 1, len(a))
    padded[0, 0], padded[1, 0, : len(b)] = a, b
    padded[1, 0, len(b) :] = 0.7  # garbage past the length must not matter
    from_tensor = tiny_model.tokenize(padded, 16000, lengths=[len(a), len(b)])
    from_list = tiny_model.tokenize([a, b], 16000)
    assert torch.equal(from_tensor.codes, from_list.codes)


def test_resample_and_downmix(tiny_model):
    stereo = torch.stack([speechlike(0.5, 44100), speechlike(0.5, 44100, seed=2)])
    tokens = tiny_model.tokenize(stereo, sample_rate=44100)
    assert tokens.audio_lengths.tolist() == [8000]
    assert tokens.lengths.tolist() == [25]
    assert tiny_model.detokenize(tokens).shape == (1, 1, 8000)


def test_every_codebook_prefix_decodes(tiny_model):
    tokens = tiny_model.tokenize(speechlike(0.4), 16000)
    previous = None
    for k in range(1, tokens.num_codebooks + 1):
        cut = tokens.truncate(k)
        assert cut.num_codebooks == k and cut.num_semantic_codebooks == 1
        assert torch.equal(tiny_model.tokenize(speechlike(0.4), 16000, num_codebooks=k).codes, cut.codes)
        audio = tiny_model.detokenize(cut)
        assert audio.shape == (1, 1, 6400) and torch.isfinite(audio).all()
        if previous is not None:
            assert not torch.equal(audio, previous)
        previous = audio


def test_save_pretrained_load_gives_identical_tokens(tmp_path, tiny_model):
    wav = speechlike(0.7)
    before = tiny_model.tokenize(wav, 16000)
    tiny_model.save_pretrained(tmp_path / "ckpt")
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == ["config.json", "model.safetensors"]
    loaded = codec.load(str(tmp_path / "ckpt"))
    after = loaded.tokenize(wav, 16000)
    assert torch.equal(before.codes, after.codes)
    assert loaded.model_id == tiny_model.model_id and "@" in loaded.model_id
    assert torch.equal(tiny_model.detokenize(after), loaded.detokenize(after))


def test_pickle_checkpoint_is_refused_without_running_code(tmp_path, tiny_model):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    ckpt = tiny_model.save_pretrained(tmp_path / "ckpt")
    with open(ckpt / "model.safetensors", "wb") as handle:
        pickle.dump({"state": Payload()}, handle)
    with pytest.raises(ValueError, match="pickle"):
        Codec.from_pretrained(ckpt)
    torch.save({"state": Payload()}, ckpt / "model.safetensors")
    with pytest.raises(ValueError, match=r"model\.safetensors"):
        Codec.from_pretrained(ckpt)
    assert not marker.exists()


def test_corrupt_and_mismatched_checkpoints_raise_clearly(tmp_path, tiny_model):
    ckpt = tiny_model.save_pretrained(tmp_path / "ckpt")
    (ckpt / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    with pytest.raises(ValueError, match=r"model\.safetensors"):
        Codec.from_pretrained(ckpt)
    make_model(encoder="conv", decoder="conv").save_pretrained(tmp_path / "other")
    (tmp_path / "other" / "config.json").write_text((ckpt / "config.json").read_text())
    with pytest.raises(ValueError, match="do not match"):
        Codec.from_pretrained(tmp_path / "other")
    with pytest.raises(FileNotFoundError):
        Codec.from_pretrained(tmp_path / "missing")


def test_bad_tokens_raise_with_expected_values(tiny_model):
    tokens = tiny_model.tokenize(speechlike(0.2), 16000)
    bad_ids = tokens.codes.clone()
    bad_ids[0, 1, 2] = 64
    with pytest.raises(ValueError, match=r"\[0, 63\]"):
        tiny_model.detokenize(Tokens(**{**tokens.__dict__, "codes": bad_ids}))
    with pytest.raises(ValueError, match="num_codebooks must be in \\[1, 4\\]"):
        tiny_model.detokenize(torch.zeros(1, 5, 3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"frame_rate=25\.0, this model expects 50\.0"):
        tiny_model.detokenize(Tokens(**{**tokens.__dict__, "frame_rate": 25.0}))
    with pytest.raises(ValueError, match="other-model"):
        tiny_model.detokenize(Tokens(**{**tokens.__dict__, "model_id": "other-model"}))
    with pytest.raises(ValueError, match="integer"):
        tiny_model.detokenize(torch.zeros(1, 4, 3))


def test_raw_codes_from_a_language_model_decode(tiny_model):
    codes = torch.randint(0, 64, (2, 2, 7))
    audio = tiny_model.detokenize(codes, lengths=torch.tensor([7, 4]))
    assert audio.shape == (2, 1, 7 * 320)
    assert not audio[1, :, 4 * 320 :].any()


def test_untrained_kmeans_codebooks_refuse_to_tokenize():
    cfg = tiny_config()
    cfg.quantizer = QuantizerConfig(num_codebooks=2, codebook_size=16, codebook_dim=4, kmeans_init=True)
    with pytest.raises(ValueError, match="not initialised"):
        Codec(cfg).eval().tokenize(speechlike(0.1), 16000)


def test_forward_is_differentiable_and_dropout_keeps_prefixes():
    model = make_model().train()
    wav = torch.stack([speechlike(0.3, seed=s) for s in range(4)])[:, None]
    out = model(wav, torch.tensor([4800, 4000, 3000, 4800]))
    assert out.audio.shape == (4, 1, 4800) and out.codes.shape == (4, 4, 15)
    (out.audio.square().mean() + out.commitment_loss).backward()
    grads = [p.grad for p in model.encoder.parameters() if p.grad is not None]
    assert grads and any(g.abs().sum() > 0 for g in grads)


def test_embed_gives_the_quantized_latent_the_decoder_consumes():
    """`model.embed` (public, documented in docs/api.md): [B, D, F], prefix-k sums, zero padding, checked ids."""
    model = make_model()
    tokens = model.tokenize([speechlike(0.5), speechlike(0.3, seed=1)], sample_rate=16000)
    emb = model.embed(tokens)
    assert emb.shape == (2, model.cfg.latent_dim, tokens.num_frames)
    short = int(tokens.lengths[1])
    assert torch.all(emb[1, :, short:] == 0) and emb[1, :, :short].abs().sum() > 0
    with torch.inference_mode():
        latent, _ = model.encode(speechlike(0.5)[None, None], torch.tensor([8000]))
        expected = model.quantizer.decode(model.quantizer.encode(latent, model.num_codebooks))
    assert torch.allclose(emb[0], expected[0], atol=1e-5)
    coarse = model.embed(tokens.truncate(1))
    assert not torch.allclose(coarse, emb)
    raw = model.embed(tokens.codes[:1, :, :short], lengths=torch.tensor([short]))
    assert raw.shape == (1, model.cfg.latent_dim, short)
    with pytest.raises(ValueError, match="token ids must be in"):
        model.embed(torch.full((1, 4, 3), model.codebook_size))
