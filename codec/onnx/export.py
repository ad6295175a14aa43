"""`export_onnx`: the encode (audio -> codes) and decode (codes -> audio) graphs of a codec as ONNX
files with dynamic batch and length, metadata in each graph, and a check against torch.

Directory layout (read by codec.onnx.backend.OnnxCodec):
  encoder.onnx   inputs audio float32 [B, 1, T], lengths int64 [B];
                 outputs codes int64 [B, K, ceil(T / frame_size)], frame_lengths int64 [B]
  decoder.onnx   inputs codes int64 [B, k, F] (any k <= K), frame_lengths int64 [B];
                 output audio float32 [B, 1, F * frame_size] (trim each item to its audio length)
  encoder.int8.onnx, decoder.int8.onnx   (with int8=True) dynamic int8 matmuls in the backbones
  encode_step.onnx, decode_step.onnx     (causal models) one streaming step of chunk_frames frames:
                 inputs audio [B, 1, chunk_samples] | codes [B, k, chunk_frames], then state.<name>;
                 outputs codes [B, K, chunk_frames] | audio [B, 1, chunk_samples] and tail
                 [B, 1, lookahead], then next.<name> (codec.onnx.state; names, shapes in onnx.json)
  onnx.json      model id, rates, K, config, files with sha256, streaming (null for non-causal
                 models), and the export checks' figures
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
from codec.onnx.state import StatefulStep, state_names

OPSET = 17
CHUNK_FRAMES = 4
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


@dataclass
class StepCheck:
    """The step graphs against torch streaming over the same chunks: frames whose K codes all agree, and
    the max-abs error of the decoded chunks and of the flushed tail."""

    frames_equal: float
    audio_max_abs: float
    frames: int
    chunks: int


def _metadata(model, graph: str, int8: bool) -> dict[str, str]:
    """The facts a runtime needs, stored in the graph's metadata_props."""
    return {
        "codec.format": FORMAT,
        "codec.format_version": str(FORMAT_VERSION),
        "codec.version": __version__,
        "codec.graph": graph,
        "codec.int8": str(int8).lower(),
        "model_id": model.model_id,
        "sample_rate": str(model.sample_rate),
        "frame_size": str(model.frame_size),
        "frame_rate": str(model.frame_rate),
        "num_codebooks": str(model.num_codebooks),
        "codebook_size": str(model.codebook_size),
        "num_semantic_codebooks": str(model.cfg.quantizer.num_semantic_codebooks),
    }


def _export_graph(
    module: torch.nn.Module,
    args: tuple,
    names: tuple[list[str], list[str]],
    axes: dict,
    path: Path,
    metadata: dict[str, str],
) -> None:
    """torch -> ONNX at `path` (atomically) with metadata_props."""
    import onnx

    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            args,
            str(tmp),
            dynamo=False,
            opset_version=OPSET,
            input_names=names[0],
            output_names=names[1],
            dynamic_axes=axes,
            do_constant_folding=True,
        )
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
    quantize_dynamic(
        str(src),
        str(tmp),
        weight_type=QuantType.QInt8,
        op_types_to_quantize=["MatMul", "Gemm"],
        nodes_to_exclude=[name for name in matmuls if name not in chosen],
        extra_options={"MatMulConstBOnly": True},
    )
    proto = onnx.load(str(tmp))
    props = {p.key: p.value for p in proto.metadata_props}
    onnx.helper.set_model_props(proto, {**props, "codec.int8": "true"})
    onnx.save(proto, str(tmp))
    os.replace(tmp, dst)


def _export_steps(model, out: Path, chunk_frames: int) -> dict:
    """Write encode_step.onnx and decode_step.onnx of a causal model; the manifest's `streaming` entry."""
    chunk_samples = chunk_frames * model.frame_size
    streaming = {"chunk_frames": chunk_frames, "chunk_samples": chunk_samples, "lookahead": model.decoder.lookahead}
    steps = (
        (
            "encode_step",
            EncodeGraph,
            torch.zeros(2, 1, chunk_samples),
            "audio",
            ["codes"],
            {"audio": {0: "batch"}, "codes": {0: "batch"}},
        ),
        (
            "decode_step",
            DecodeGraph,
            torch.zeros(2, model.num_codebooks, chunk_frames, dtype=torch.long),
            "codes",
            ["audio", "tail"],
            {"codes": {0: "batch", 1: "codebooks"}, "audio": {0: "batch"}, "tail": {0: "batch"}},
        ),
    )
    for graph, make, x, x_name, out_names, axes in steps:
        step = StatefulStep(make(model), "step")
        state_in, state_out = state_names(step.layout)
        for spec, name_in, name_out in zip(step.layout, state_in, state_out):
            if spec.batch_axis is not None:
                axes[name_in] = axes[name_out] = {spec.batch_axis: "batch"}
        layout = [spec.describe() for spec in step.layout]
        metadata = {
            **_metadata(model, graph, False),
            "chunk_frames": str(chunk_frames),
            "chunk_samples": str(chunk_samples),
            "lookahead": str(streaming["lookahead"]),
            "state": json.dumps(layout),
        }
        _export_graph(
            step,
            (x, *step.initial_state(2)),
            ([x_name, *state_in], [*out_names, *state_out]),
            axes,
            out / GRAPH_FILES[(graph, False)],
            metadata,
        )
        streaming[graph] = {"file": GRAPH_FILES[(graph, False)], "state": layout}
    return streaming


def export_onnx(
    model,
    out_dir: str | os.PathLike,
    int8: bool = False,
    force: bool = False,
    check: bool = True,
    chunk_frames: int = CHUNK_FRAMES,
) -> dict:
    """Write the ONNX graphs of `model` (a torch Codec) into `out_dir`; returns the manifest written.

    A causal model also gets the streaming step graphs, `chunk_frames` frames per step (a non-causal
    one gets none: the manifest's `streaming` is null). With `check`, the float32 graphs are run on a
    check batch and compared with the torch model (the step graphs with torch streaming over the same
    chunks): ValueError unless >= 99 % of frames have equal codes and the decoded audio is within 1e-3.
    """
    require_onnx()
    if chunk_frames < 1:
        raise ValueError(f"chunk_frames must be >= 1, got {chunk_frames}")
    out = Path(out_dir)
    if (out / MANIFEST).exists() and not force:
        raise FileExistsError(f"{out / MANIFEST} exists; pass force=True (--force) to overwrite")
    out.mkdir(parents=True, exist_ok=True)
    model = model.float().eval()
    audio, lengths = check_signal(model.sample_rate)
    frames = int((lengths.max() + model.frame_size - 1) // model.frame_size)
    codes = torch.zeros(2, model.num_codebooks, frames, dtype=torch.long)
    frame_lengths = (lengths + model.frame_size - 1) // model.frame_size
    _export_graph(
        EncodeGraph(model),
        (audio, lengths),
        (["audio", "lengths"], ["codes", "frame_lengths"]),
        {
            "audio": {0: "batch", 2: "samples"},
            "lengths": {0: "batch"},
            "codes": {0: "batch", 2: "frames"},
            "frame_lengths": {0: "batch"},
        },
        out / GRAPH_FILES[("encode", False)],
        _metadata(model, "encode", False),
    )
    _export_graph(
        DecodeGraph(model),
        (codes, frame_lengths),
        (["codes", "frame_lengths"], ["audio"]),
        {
            "codes": {0: "batch", 1: "codebooks", 2: "frames"},
            "frame_lengths": {0: "batch"},
            "audio": {0: "batch", 2: "samples"},
        },
        out / GRAPH_FILES[("decode", False)],
        _metadata(model, "decode", False),
    )
    if int8:
        for graph in ("encode", "decode"):
            _quantize_int8(out / GRAPH_FILES[(graph, False)], out / GRAPH_FILES[(graph, True)])
    streaming = _export_steps(model, out, chunk_frames) if model.cfg.causal else None
    if streaming is None:  # no stale step graphs from an earlier export of another model
        for graph in ("encode_step", "decode_step"):
            (out / GRAPH_FILES[(graph, False)]).unlink(missing_ok=True)
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "codec_version": __version__,
        "model_id": model.model_id,
        "config": to_dict(model.cfg),
        "opset": OPSET,
        "params": sum(p.numel() for p in model.parameters()),
        "files": {name: sha256_file(out / name) for name in GRAPH_FILES.values() if (out / name).exists()},
        "streaming": streaming,
    }
    atomic_write_bytes(out / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())
    if check:
        manifest["check"] = {}
        for precision in (False, True) if int8 else (False,):
            result = compare_with_torch(model, out, int8=precision)
            manifest["check"]["int8" if precision else "float32"] = asdict(result)
            if not precision:
                _require_close(out, "ONNX export check", result.frames_equal, result.audio_max_abs)
        if streaming is not None:
            steps = compare_steps_with_torch(model, out)
            manifest["check"]["streaming"] = asdict(steps)
            _require_close(out, "ONNX step-graph check", steps.frames_equal, steps.audio_max_abs)
        atomic_write_bytes(out / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())
    return manifest


def _require_close(out: Path, what: str, frames_equal: float, audio_max_abs: float) -> None:
    """ValueError (and no manifest: no backend loads the graphs) unless a check met the export's bounds."""
    if frames_equal < MIN_CODE_AGREEMENT or audio_max_abs > MAX_AUDIO_ERROR:
        (out / MANIFEST).unlink()  # the graphs stay for inspection
        raise ValueError(
            f"{out}: {what} failed: codes equal on {100 * frames_equal:.2f} % of frames "
            f"(need {100 * MIN_CODE_AGREEMENT:.0f} %), audio max-abs error {audio_max_abs:.2e} "
            f"(need <= {MAX_AUDIO_ERROR:.0e})"
        )


def compare_with_torch(
    model,
    directory: str | os.PathLike,
    int8: bool = False,
    audio: torch.Tensor | None = None,
    lengths: torch.Tensor | None = None,
) -> CheckResult:
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


def compare_steps_with_torch(model, directory: str | os.PathLike, seconds: float = 1.0) -> StepCheck:
    """Stream the check batch chunk by chunk through the step graphs in `directory` and through torch
    streaming; codes are compared, and the torch codes are decoded by both (chunks and flushed tail)."""
    onnx_model = OnnxCodec(directory, verify=False)
    audio, _ = check_signal(model.sample_rate, seconds)
    ref_codes, ref_audio, got_codes, got_audio = [], [], [], []
    with model.streaming(audio.shape[0]), onnx_model.streaming(audio.shape[0]) as session:
        step = session.chunk_samples
        for start in range(0, audio.shape[-1] - step + 1, step):
            chunk = audio[..., start : start + step]
            ref_codes.append(model.encode_chunk(chunk))
            got_codes.append(onnx_model.encode_chunk(chunk))
            ref_audio.append(model.decode_chunk(ref_codes[-1]))
            got_audio.append(onnx_model.decode_chunk(ref_codes[-1]))
        ref_audio.append(model.flush())
        got_audio.append(onnx_model.flush())
    same = (torch.cat(got_codes, -1) == torch.cat(ref_codes, -1)).all(dim=1)
    error = float((torch.cat(got_audio, -1) - torch.cat(ref_audio, -1)).abs().max())
    return StepCheck(
        frames_equal=float(same.float().mean()), audio_max_abs=error, frames=same.numel(), chunks=len(ref_codes)
    )
