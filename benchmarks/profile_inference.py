"""Where tokenize/detokenize time goes, per stage, on torch and on onnxruntime (one thread by default).

    .venv/bin/python benchmarks/profile_inference.py [--model speechcodec-16k-50hz] [--seconds 10] [--repeats 5]

torch: each stage is timed on its own (median of --repeats), fed the previous stage's output.
onnxruntime: the float32 and int8 graphs run with onnxruntime's profiler; node kernel times are summed
by the module their name comes from (fused nodes without a scope are counted by op type).
Stages: STFT (+ power compression), encoder ConvNeXt, quantizer search (the argmin over codebooks),
codebook lookup, decoder ConvNeXt, head projection, iSTFT (exp/cos/sin, inverse DFT, overlap-add).
The machine's load average is printed: on a shared machine compare shares, not absolute times.
Last, the compute ceiling: the model's Linear/Conv1d multiply-accumulates per call against this core's
measured rate on the backbone's matmul shape (torch, onnxruntime float32 and int8).
"""

from __future__ import annotations

import argparse
import collections
import json
import logging
import os
import statistics
import tempfile
import time
from functools import partial

import numpy as np
import torch

from codec.eval.bench import bench_signal
from codec.models.codec import Codec
from codec.onnx.select import load_backend


def _median_ms(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


@torch.inference_mode()
def torch_stages(model: Codec, audio: torch.Tensor, repeats: int) -> dict[str, float]:
    """Milliseconds per stage of the torch model (frame encoder + vocoder decoder)."""
    enc, dec, quant = model.encoder, model.decoder, model.quantizer
    lengths = torch.tensor([audio.shape[-1]])
    frames = model.num_frames(lengths)
    spec = enc.stft(audio)
    x = torch.cat([spec.real, spec.imag], dim=1)
    latent = enc.proj(enc.backbone(x, frames))
    codes = quant.encode(latent)
    quantized = quant.decode(codes)
    features = dec.backbone(quantized, frames)
    tokens = model.tokenize(audio, model.sample_rate)

    def stft():
        s = enc.stft(audio)
        s = s * (s.abs() + 1e-5).pow(-0.7)
        return torch.cat([s.real, s.imag], dim=1)

    def head_proj():
        return dec.head.proj(features.transpose(1, 2))

    y = head_proj().float()

    def istft():
        mag_log, phase = y.chunk(2, dim=-1)
        spec_ = torch.polar(torch.exp(mag_log.clamp(max=6.0)), phase)
        return dec.head.overlap_add(torch.fft.irfft(spec_, n=dec.head.n_fft, dim=-1) * dec.head.window, frames)

    return {
        "STFT + compression": _median_ms(stft, repeats),
        "encoder ConvNeXt + proj": _median_ms(lambda: enc.proj(enc.backbone(x, frames)), repeats),
        "quantizer search": _median_ms(lambda: quant.encode(latent), repeats),
        "codebook lookup": _median_ms(lambda: quant.decode(codes), repeats),
        "decoder ConvNeXt": _median_ms(lambda: dec.backbone(quantized, frames), repeats),
        "head projection": _median_ms(head_proj, repeats),
        "iSTFT": _median_ms(istft, repeats),
        "tokenize (whole call)": _median_ms(lambda: model.tokenize(audio, model.sample_rate), repeats),
        "detokenize (whole call)": _median_ms(lambda: model.detokenize(tokens), repeats),
    }


def _stage(name: str, op: str, graph: str) -> str:
    """The stage a profiled onnxruntime node belongs to."""
    if not name.startswith("/"):
        if op not in ("BiasGelu", "Gelu", "LayerNormalization", "FusedMatMul"):
            return "other"
        return "encoder ConvNeXt + proj" if graph == "encoder" else "decoder ConvNeXt"
    if name.startswith("/encoder/stft") or (name.startswith("/encoder/") and name.count("/") == 2):
        return "STFT + compression"
    if name.startswith(("/encoder/backbone", "/encoder/proj")):
        return "encoder ConvNeXt + proj"
    if name.startswith("/decoder/backbone"):
        return "decoder ConvNeXt"
    if name.startswith("/decoder/head/proj"):
        return "head projection"
    if name.startswith("/decoder/head"):
        return "iSTFT"
    return "quantizer search" if graph == "encoder" else "codebook lookup"


def onnx_stages(runtime, audio: torch.Tensor, repeats: int) -> dict[str, float]:
    """Milliseconds per stage of the ONNX graphs, from onnxruntime's profiler."""
    import onnxruntime as ort

    totals: dict[str, float] = collections.Counter()
    lengths = np.array([audio.shape[-1]])
    tokens = runtime.tokenize(audio, runtime.sample_rate)
    feeds = {
        "encoder": {"audio": audio.numpy(), "lengths": lengths},
        "decoder": {"codes": tokens.codes.numpy(), "frame_lengths": tokens.lengths.numpy()},
    }
    with tempfile.TemporaryDirectory() as tmp:
        for graph, key in (("encoder", "encode"), ("decoder", "decode")):
            options = ort.SessionOptions()
            options.intra_op_num_threads, options.inter_op_num_threads = torch.get_num_threads(), 1
            options.enable_profiling, options.profile_file_prefix = True, os.path.join(tmp, graph)
            session = ort.InferenceSession(str(runtime.files[key]), options, providers=["CPUExecutionProvider"])
            for _ in range(repeats + 1):
                session.run(None, feeds[graph])
            with open(session.end_profiling()) as handle:
                events = json.load(handle)
            for event in events:
                if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
                    stage = _stage(event["name"][: -len("_kernel_time")], event["args"]["op_name"], graph)
                    totals[stage] += event["dur"] / 1000 / (repeats + 1)
    totals["tokenize (whole call)"] = _median_ms(lambda: runtime.tokenize(audio, runtime.sample_rate), repeats)
    totals["detokenize (whole call)"] = _median_ms(lambda: runtime.detokenize(tokens), repeats)
    return dict(totals)


def count_macs(model: Codec, fn) -> int:
    """Multiply-accumulates of every Linear / Conv1d call made while `fn()` runs (the model's FLOP bulk)."""
    total = 0

    def hook(module, inputs, output):
        nonlocal total
        if isinstance(module, torch.nn.Linear):
            total += output.numel() * module.in_features
        else:  # Conv1d: each output element sums in_channels/groups x kernel products
            total += output.numel() * module.in_channels // module.groups * module.kernel_size[0]

    kinds = (torch.nn.Linear, torch.nn.Conv1d)
    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, kinds)]
    try:
        with torch.inference_mode():
            fn()
    finally:
        for handle in handles:
            handle.remove()
    return total


def gemm_rates(rows: int, dim: int, hidden: int, repeats: int) -> dict[str, float]:
    """GMAC/s of this core on the backbone's dominant matmul ([rows, dim] x [dim, hidden]): torch, ORT, ORT int8."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper
    from onnxruntime.quantization import QuantType, quantize_dynamic

    x = torch.randn(rows, dim)
    w = torch.randn(dim, hidden) / dim**0.5
    macs = rows * dim * hidden
    rates = {"torch": macs / _median_ms(lambda: x @ w, repeats) / 1e6}
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")],
        "gemm",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [rows, dim])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [rows, hidden])],
        [numpy_helper.from_array(w.numpy(), "w")],
    )
    with tempfile.TemporaryDirectory() as tmp:
        fp32, int8 = os.path.join(tmp, "mm.onnx"), os.path.join(tmp, "mm.int8.onnx")
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), fp32)
        logging.getLogger().setLevel(logging.ERROR)  # onnxruntime's "consider pre-processing" advice
        quantize_dynamic(fp32, int8, weight_type=QuantType.QInt8)
        for name, path in (("onnx", fp32), ("onnx-int8", int8)):
            options = ort.SessionOptions()
            options.intra_op_num_threads, options.inter_op_num_threads = torch.get_num_threads(), 1
            session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
            rates[name] = macs / _median_ms(partial(session.run, None, {"x": x.numpy()}), repeats) / 1e6
    return rates


def print_ceiling(model: Codec, audio: torch.Tensor, seconds: float, repeats: int) -> None:
    """The speed each backend would reach if every MAC ran at its own GEMM rate: the compute ceiling."""
    tokens = model.tokenize(audio, model.sample_rate)
    macs = {
        "tokenize": count_macs(model, lambda: model.tokenize(audio, model.sample_rate)),
        "detokenize": count_macs(model, lambda: model.detokenize(tokens)),
    }
    dim = model.cfg.decoder.dim
    rates = gemm_rates(int(tokens.lengths.max()), dim, model.cfg.decoder.intermediate_dim, repeats)
    print(
        f"\nCompute ceiling: Linear/Conv1d multiply-accumulates per call, and the x real time reached if all of "
        f"them ran at this core's rate on the backbone's matmul ({int(tokens.lengths.max())} x {dim} x "
        f"{model.cfg.decoder.intermediate_dim}); everything else (STFT, GELU, norms, search) is extra"
    )
    heads = [f"{name} ceiling × RT ({rate:.0f} GMAC/s)" for name, rate in rates.items()]
    print("| call | GMAC | " + " | ".join(heads) + " |")
    print("| --- | ---: |" + " ---: |" * len(rates))
    for call, count in macs.items():
        cells = " | ".join(f"{seconds * rate * 1e9 / count:.0f}" for rate in rates.values())
        print(f"| {call} | {count / 1e9:.2f} | {cells} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="speechcodec-16k-50hz")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = Codec.from_pretrained(args.model)
    if model.cfg.encoder.kind != "frame" or model.cfg.decoder.kind != "vocoder":
        raise SystemExit("the per-stage split is written for the frame encoder + vocoder decoder")
    audio = bench_signal(1, args.seconds, model.sample_rate)[0][None]
    columns = {"torch": torch_stages(model, audio, args.repeats)}
    for backend in ("onnx", "onnx-int8"):
        columns[backend] = onnx_stages(load_backend(args.model, backend=backend), audio, args.repeats)
    stages = list(dict.fromkeys(k for c in columns.values() for k in c))
    print(
        f"{args.seconds:g} s item, batch 1, {args.threads} thread(s), load average {os.getloadavg()[0]:.1f}; "
        "milliseconds per call"
    )
    print("| stage | " + " | ".join(columns) + " |")
    print("| --- |" + " ---: |" * len(columns))
    for stage in stages:
        cells = []
        for column in columns.values():
            ms = column.get(stage)
            cells.append("–" if ms is None else f"{ms:.1f}")
        print(f"| {stage} | " + " | ".join(cells) + " |")
    print_ceiling(model, audio, args.seconds, args.repeats)


if __name__ == "__main__":
    main()
