"""`export_onnx`: the encode (audio -> codes) and decode (codes -> audio) graphs of a codec as ONNX
files with dynamic batch and length, metadata in each graph, and a check against torch.

Directory layout (read by codec.onnx.backend.OnnxCodec):
  encoder.onnx   inputs audio float32 [B, 1, T], lengths int64 [B];
                 outputs codes int64 [B, K, ceil(T / frame_size)], frame_lengths int64 [B]
  decoder.onnx   inputs codes int64 [B, k, F] (any k <= K), frame_lengths int64 [B];
                 output audio float32 [B, 1, F * frame_size] (trim each item to its audio length)
  encoder.int8.onnx, decoder.int8.onnx   (with int8=True) dynamic int8 matmuls in the backbones
  onnx.json      model id, rates, K, config, files with sha256, and the export check's figures
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from codec import __version__
from codec.config import to_dict
from codec.io.files import atomic_write_bytes
from codec.io.weights import sha256_file
from codec.onnx.backend import OnnxCodec
from codec.onnx.files import FORMAT, FORMAT_VERSION, GRAPH_FILES, MANIFEST, require_onnx
from codec.onnx.graphs import DecodeGraph, EncodeGraph

OPSET = 17
MIN_CODE_AGREEMENT = 0.99
MAX_AUDIO_ERROR = 1e-3


@dataclass
class CheckResult:
    """ONNX against torch on a check batch: frames whose K codes all agree, and decoded audio max-abs error."""

    frames_equal: float
    audio_max_abs: float
    frames: int


def check_signal(sample_rate: int, seconds: float = 3.0, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A deterministic speech-like batch [2, 1, T] (harmonics with a moving pitch, noise) and unequal lengths."""
    g = torch.Generator().manual_seed(seed)
    n = int(seconds * sample_rate)
    t = torch.arange(n) / sample_rate
    pitch = 120 + 40 * torch.sin(2 * torch.pi * 0.7 * t)
    phase = 2 * torch.pi * torch.cumsum(pitch, 0) / sample_rate
    voiced = sum(torch.sin(k * phase) / k for k in range(1, 12)) * (0.6 + 0.4 * torch.sin(2 * torch.pi * 3 * t))
    audio = 0.1 * voiced + 0.01 * torch.randn(2, 1, n, generator=g)
    return audio.float(), torch.tensor([n, n - n // 3])


def _metadata(model, graph: str, int8: bool) -> dict[str, str]:
    """The facts a runtime needs, stored in the graph's metadata_props."""
    return {
        "codec.format": FORMAT, "codec.format_version": str(FORMAT_VERSION), "codec.version": __version__,
        "codec.graph": graph, "codec.int8": str(int8).lower(), "model_id": model.model_id,
        "sample_rate": str(model.sample_rate), "frame_size": str(model.frame_size),
        "frame_rate": str(model.frame_rate), "num_codebooks": str(model.num_codebooks),
        "codebook_size": str(model.codebook_size),
        "num_semantic_codebooks": str(model.cfg.quantizer.num_semantic_codebooks),
    }


def _export_graph(module: torch.nn.Module, args: tuple, names: tuple[list[str], list[str]], axes: dict,
                  path: Path, metadata: dict[str, str]) -> None:
    """torch -> ONNX at `path` (atomically) with metadata_props."""
    import onnx

    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, args, str(tmp), dynamo=False, opset_version=OPSET, input_names=names[0],
                          output_names=names[1], dynamic_axes=axes, do_constant_folding=True)
    proto = onnx.load(str(tmp))
    onnx.helper.set_model_props(proto, metadata)
    onnx.save(proto, str(tmp))
    os.replace(tmp, path)


def _quantize_int8(src: Path, dst: Path) -> None:
    """Dynamic int8 (uint8 activations, int8 weights) for the backbone and projection matmuls only.

    The STFT bases, the quantizer's distance matmuls and codebook tables stay float32; convolutions
    (the conv encoder/decoder kinds) stay float32 too, so int8 changes little for those models.
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    matmuls = [n.name for n in onnx.load(str(src)).graph.node if n.op_type in ("MatMul", "Gemm")]
    chosen = [name for name in matmuls if "backbone" in name or "proj" in name]
    tmp = dst.with_name(f"{dst.name}.{os.getpid()}.tmp")
    logging.getLogger().setLevel(max(logging.getLogger().level, logging.ERROR))  # its shape-inference chatter
    # An empty nodes_to_quantize means "all nodes" to onnxruntime: exclude the others explicitly.
    quantize_dynamic(str(src), str(tmp), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul", "Gemm"],
                     nodes_to_exclude=[name for name in matmuls if name not in chosen],
                     extra_options={"MatMulConstBOnly": True})
    proto = onnx.load(str(tmp))
    props = {p.key: p.value for p in proto.metadata_props}
    onnx.helper.set_model_props(proto, {**props, "codec.int8": "true"})
    onnx.save(proto, str(tmp))
    os.replace(tmp, dst)


def export_onnx(model, out_dir: str | os.PathLike, int8: bool = False, force: bool = False,
                check: bool = True) -> dict:
    """Write the ONNX graphs of `model` (a torch Codec) into `out_dir`; returns the manifest written.

    With `check`, both float32 graphs are run on a check batch and compared with the torch model:
    ValueError unless >= 99 % of frames have equal codes and the decoded audio is within 1e-3.
    """
    require_onnx()
    out = Path(out_dir)
    if (out / MANIFEST).exists() and not force:
        raise FileExistsError(f"{out / MANIFEST} exists; pass force=True (--force) to overwrite")
    out.mkdir(parents=True, exist_ok=True)
    model = model.float().eval()
    audio, lengths = check_signal(model.sample_rate)
    frames = int((lengths.max() + model.frame_size - 1) // model.frame_size)
    codes = torch.zeros(2, model.num_codebooks, frames, dtype=torch.long)
    frame_lengths = (lengths + model.frame_size - 1) // model.frame_size
    _export_graph(EncodeGraph(model), (audio, lengths), (["audio", "lengths"], ["codes", "frame_lengths"]),
                  {"audio": {0: "batch", 2: "samples"}, "lengths": {0: "batch"},
                   "codes": {0: "batch", 2: "frames"}, "frame_lengths": {0: "batch"}},
                  out / GRAPH_FILES[("encode", False)], _metadata(model, "encode", False))
    _export_graph(DecodeGraph(model), (codes, frame_lengths), (["codes", "frame_lengths"], ["audio"]),
                  {"codes": {0: "batch", 1: "codebooks", 2: "frames"}, "frame_lengths": {0: "batch"},
                   "audio": {0: "batch", 2: "samples"}},
                  out / GRAPH_FILES[("decode", False)], _metadata(model, "decode", False))
    if int8:
        for graph in ("encode", "decode"):
            _quantize_int8(out / GRAPH_FILES[(graph, False)], out / GRAPH_FILES[(graph, True)])
    manifest = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "codec_version": __version__,
        "model_id": model.model_id, "config": to_dict(model.cfg), "opset": OPSET,
        "params": sum(p.numel() for p in model.parameters()),
        "files": {name: sha256_file(out / name) for name in GRAPH_FILES.values() if (out / name).exists()},
    }
    atomic_write_bytes(out / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())
    if check:
        manifest["check"] = {}
        for precision in (False, True) if int8 else (False,):
            result = compare_with_torch(model, out, int8=precision)
            manifest["check"]["int8" if precision else "float32"] = asdict(result)
            if not precision and (result.frames_equal < MIN_CODE_AGREEMENT or result.audio_max_abs > MAX_AUDIO_ERROR):
                (out / MANIFEST).unlink()  # the graphs stay for inspection, but no backend loads them
                raise ValueError(f"{out}: ONNX export check failed: codes equal on {100 * result.frames_equal:.2f} % "
                                 f"of frames (need {100 * MIN_CODE_AGREEMENT:.0f} %), audio max-abs error "
                                 f"{result.audio_max_abs:.2e} (need <= {MAX_AUDIO_ERROR:.0e})")
        atomic_write_bytes(out / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())
    return manifest


def compare_with_torch(model, directory: str | os.PathLike, int8: bool = False,
                       audio: torch.Tensor | None = None, lengths: torch.Tensor | None = None) -> CheckResult:
    """Tokenize and detokenize with the ONNX graphs in `directory` and with the torch model; how close they are."""
    if audio is None:
        audio, lengths = check_signal(model.sample_rate)
    onnx_model = OnnxCodec(directory, int8=int8, verify=False)
    ref = model.tokenize(audio, model.sample_rate, lengths=lengths)
    got = onnx_model.tokenize(audio, model.sample_rate, lengths=lengths)
    valid = ref.mask()
    same = (got.codes == ref.codes).all(dim=1) & valid
    frames = int(valid.sum())
    decoded = onnx_model.detokenize(ref)  # the same codes through both decoders
    error = float((decoded - model.detokenize(ref)).abs().max())
    return CheckResult(frames_equal=float(same.sum()) / max(frames, 1), audio_max_abs=error, frames=frames)
