"""ONNX export and the onnxruntime backend against the torch reference, on tiny random models."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from codec.cli import main
from codec.config import QuantizerConfig
from codec.models.codec import Codec
from codec.nn.stft import FrameSTFT, ISTFTHead
from codec.onnx.graphs import BlockISTFTHead, BlockSTFT, DecodeGraph, EncodeGraph
from tests.conftest import make_model, speechlike, tiny_config

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from codec.onnx.backend import OnnxCodec  # noqa: E402
from codec.onnx.export import export_onnx  # noqa: E402

VARIANTS = [dict(), dict(encoder="conv", decoder="conv"), dict(causal=True)]


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    """Two held-out speech-like items of unequal length (not the export check's signal)."""
    audio = torch.zeros(2, 1, 40000)
    audio[0, 0] = speechlike(2.5, seed=11)
    audio[1, 0, :27123] = speechlike(27123 / 16000, seed=12)
    return audio, torch.tensor([40000, 27123])


@pytest.mark.parametrize("n_fft,hop,causal", [(1280, 320, False), (640, 320, False), (1280, 320, True)])
def test_block_stft_and_istft_equal_the_fft_modules(n_fft, hop, causal):
    torch.manual_seed(0)
    audio = torch.randn(2, 1, 25 * hop)
    stft = FrameSTFT(n_fft, hop, causal)
    ref = stft(audio)
    block = BlockSTFT(stft)
    got = block(audio)
    bins = n_fft // 2 + 1
    assert sorted(block.order.tolist()) == list(range(bins))
    assert torch.allclose(got[..., :bins], ref.real.transpose(1, 2)[..., block.order], atol=1e-3)
    assert torch.allclose(got[..., bins:], ref.imag.transpose(1, 2)[..., block.order], atol=1e-3)
    head = ISTFTHead(16, n_fft, hop, causal)
    features, lengths = torch.randn(2, 16, 25), torch.tensor([25, 17])
    ref_audio = head(features, lengths)
    got_audio = BlockISTFTHead(head)(features.transpose(1, 2), lengths)
    assert got_audio.shape == ref_audio.shape
    assert (got_audio - ref_audio)[1, :, : 17 * hop].abs().max() < 1e-4 * (1 + ref_audio.abs().max())
    assert (got_audio - ref_audio)[0].abs().max() < 1e-4 * (1 + ref_audio.abs().max())


@pytest.mark.parametrize(
    "kwargs", [*VARIANTS, dict(encoder="mel")], ids=["frame-vocoder", "conv-conv", "causal", "mel"]
)
def test_export_graph_modules_match_torch_before_onnx(kwargs):
    model = make_model(**kwargs)
    audio, lengths = _batch()
    ref = model.tokenize(audio, 16000, lengths=lengths)
    with torch.inference_mode():
        codes, frame_lengths = EncodeGraph(model)(audio, lengths)
        decoded = DecodeGraph(model)(ref.codes, ref.lengths)[..., : audio.shape[-1]]
    assert torch.equal(codes, ref.codes) and torch.equal(frame_lengths, ref.lengths)
    expected = model.detokenize(ref)
    decoded = decoded * (torch.arange(decoded.shape[-1]) < lengths[:, None])[:, None]
    assert (decoded - expected).abs().max() < 1e-3


@pytest.mark.parametrize("kwargs", VARIANTS, ids=["frame-vocoder", "conv-conv", "causal"])
def test_onnx_backend_matches_torch(tmp_path, kwargs):
    model = make_model(**kwargs)
    manifest = export_onnx(model, tmp_path / "onnx")
    assert manifest["check"]["float32"]["frames_equal"] >= 0.99
    runtime = OnnxCodec(tmp_path / "onnx")
    if model.cfg.causal:  # the step graphs were checked against torch streaming too
        assert manifest["check"]["streaming"]["frames_equal"] >= 0.99
        assert manifest["check"]["streaming"]["audio_max_abs"] <= 1e-3
    else:  # no step graphs, and streaming says why
        assert manifest["streaming"] is None and "encode_step.onnx" not in manifest["files"]
        with pytest.raises(ValueError, match="not causal"):
            runtime.streaming(1)
    audio, lengths = _batch()
    ref = model.tokenize(audio, 16000, lengths=lengths)
    got = runtime.tokenize(audio, 16000, lengths=lengths)
    valid = ref.mask()
    frames_equal = ((got.codes == ref.codes).all(1) & valid).sum() / valid.sum()
    assert frames_equal >= 0.99
    assert torch.equal(got.lengths, ref.lengths) and torch.equal(got.audio_lengths, ref.audio_lengths)
    assert got.model_id == ref.model_id and got.num_semantic_codebooks == ref.num_semantic_codebooks
    decoded, expected = runtime.detokenize(ref), model.detokenize(ref)
    assert decoded.shape == expected.shape
    assert (decoded - expected).abs().max() <= 1e-3
    # a lower bitrate (codebook prefix) through both graphs
    low = runtime.tokenize(audio, 16000, lengths=lengths, num_codebooks=2)
    assert torch.equal(low.codes, got.codes[:, :2])
    assert (runtime.detokenize(low) - model.detokenize(low)).abs().max() <= 1e-3


def test_export_writes_metadata_dynamic_axes_and_int8(tmp_path):
    model = make_model()
    export_onnx(model, tmp_path / "onnx", int8=True)
    manifest = json.loads((tmp_path / "onnx" / "onnx.json").read_text())
    assert set(manifest["files"]) == {"encoder.onnx", "decoder.onnx", "encoder.int8.onnx", "decoder.int8.onnx"}
    assert {"float32", "int8"} <= set(manifest["check"])
    proto = onnx.load(str(tmp_path / "onnx" / "encoder.onnx"))
    props = {p.key: p.value for p in proto.metadata_props}
    assert props["model_id"] == model.model_id and props["num_codebooks"] == "4"
    assert props["sample_rate"] == "16000" and props["frame_rate"] == "50.0" and props["codec.graph"] == "encode"
    audio_dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert audio_dims[0].dim_param and audio_dims[2].dim_param  # dynamic batch and length
    quantized = onnx.load(str(tmp_path / "onnx" / "encoder.int8.onnx")).graph.node
    assert any("backbone" in n.name and n.op_type != "MatMul" for n in quantized if "MatMul" in n.op_type)
    float_matmuls = [n for n in quantized if n.op_type == "MatMul"]
    assert float_matmuls and all("backbone" not in n.name for n in float_matmuls)  # STFT, codebook search
    int8 = OnnxCodec(tmp_path / "onnx", int8=True)
    assert int8.backend == "onnx-int8"
    tokens = int8.tokenize(speechlike(1.0), 16000)
    assert tokens.codes.shape == (1, 4, 50) and int(tokens.codes.max()) < 64
    assert int8.detokenize(tokens).shape == (1, 1, 16000)
    with pytest.raises(FileExistsError):
        export_onnx(model, tmp_path / "onnx")


def test_onnx_backend_rejects_bad_inputs(tmp_path):
    model = make_model()
    export_onnx(model, tmp_path / "onnx")
    runtime = OnnxCodec(tmp_path / "onnx")
    with pytest.raises(ValueError, match="num_codebooks"):
        runtime.tokenize(speechlike(0.5), 16000, num_codebooks=9)
    bad = runtime.tokenize(speechlike(0.5), 16000)
    with pytest.raises(ValueError, match="token ids"):
        runtime.detokenize(bad.codes + 1000)
    (tmp_path / "onnx" / "decoder.onnx").write_bytes(b"not a graph")
    with pytest.raises(ValueError, match="sha256"):
        OnnxCodec(tmp_path / "onnx")
    with pytest.raises(FileNotFoundError, match="not an ONNX export"):
        OnnxCodec(tmp_path)


def test_load_backends_and_cli(tmp_path, monkeypatch):
    import codec

    monkeypatch.setenv("CODEC_CACHE", str(tmp_path / "cache"))
    model = make_model()
    model_dir = model.save_pretrained(tmp_path / "model")
    assert isinstance(codec.load(str(model_dir)), torch.nn.Module)  # torch stays the default
    auto = codec.load(str(model_dir), backend="auto")
    assert isinstance(auto, OnnxCodec) and auto.model_id == model.model_id
    assert list((tmp_path / "cache" / "onnx").iterdir())  # exported once into the cache
    with pytest.raises(ValueError, match="backend must be one of"):
        codec.load(str(model_dir), backend="tensorrt")
    with pytest.raises(ValueError, match="runs on the CPU"):
        codec.load(str(model_dir), device="cuda", backend="onnx")

    assert main(["export", str(model_dir), "--onnx", str(tmp_path / "exported")]) == 0
    assert isinstance(codec.load(str(tmp_path / "exported"), backend="onnx"), OnnxCodec)
    assert main(["export", str(model_dir)]) == 2  # neither OUT_DIR nor --onnx

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    import soundfile

    for i in range(3):
        soundfile.write(corpus / f"{i}.wav", speechlike(0.7 + 0.3 * i, seed=i).numpy(), 16000)
    outs = {}
    for backend in ("torch", "onnx"):
        out = tmp_path / f"tokens-{backend}"
        assert main(["tokenize", str(corpus), "-o", str(out), "--model", str(model_dir), "--backend", backend]) == 0
        outs[backend] = {p.name: codec.Tokens.load(p) for p in out.glob("*.safetensors")}
    assert len(outs["onnx"]) == 3
    for name, tokens in outs["torch"].items():
        assert (outs["onnx"][name].codes == tokens.codes).all(1).float().mean() >= 0.99
    assert (
        main(
            [
                "detokenize",
                str(tmp_path / "tokens-onnx"),
                "-o",
                str(tmp_path / "wav"),
                "--model",
                str(tmp_path / "exported"),
                "--backend",
                "onnx",
            ]
        )
        == 0
    )
    assert len(list((tmp_path / "wav").glob("*.wav"))) == 3


def test_export_refuses_a_quantizer_it_cannot_fold(tmp_path):
    cfg = dataclasses.replace(tiny_config(), quantizer=QuantizerConfig("fsq", num_codebooks=3, levels=(7, 5, 5)))
    model = Codec(cfg).eval()
    with pytest.raises(ValueError, match="supports the rvq quantizer, not ResidualFSQuantizer"):
        export_onnx(model, tmp_path / "onnx")
    assert not (tmp_path / "onnx" / "onnx.json").exists()


def test_export_refuses_the_harmonic_decoder(tmp_path):
    """Its harmonic branch would be lost by the vocoder rewrite: refused, nothing written."""
    from tests.test_harmonic_decoder import harmonic_config

    model = Codec(harmonic_config()).eval()
    with pytest.raises(ValueError, match="not HarmonicDecoder"):
        export_onnx(model, tmp_path / "onnx")
    assert not (tmp_path / "onnx" / "onnx.json").exists()
