"""Streaming step graphs of causal models: exported with their state as named inputs/outputs, equal to
torch streaming over the same chunks and to offline coding; non-causal exports have none."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import make_model, speechlike

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from dataclasses import dataclass  # noqa: E402

from codec.nn.streaming import StreamingModule  # noqa: E402
from codec.onnx.backend import OnnxCodec  # noqa: E402
from codec.onnx.export import export_onnx  # noqa: E402
from codec.onnx.state import StatefulStep, state_layout  # noqa: E402

CAUSAL = [dict(encoder="frame", decoder="vocoder", causal=True), dict(encoder="conv", decoder="conv", causal=True)]
CHUNK_FRAMES = 2


@pytest.fixture(scope="module", params=CAUSAL, ids=lambda a: f"{a['encoder']}-{a['decoder']}")
def exported(request, tmp_path_factory):
    model = make_model(**request.param)
    directory = tmp_path_factory.mktemp("onnx")
    manifest = export_onnx(model, directory, chunk_frames=CHUNK_FRAMES, check=False)  # checked below
    return model, directory, manifest


def test_step_graphs_carry_the_state_described_in_the_manifest(exported):
    model, directory, manifest = exported
    streaming = manifest["streaming"]
    assert streaming["chunk_frames"] == CHUNK_FRAMES and streaming["chunk_samples"] == CHUNK_FRAMES * 320
    assert streaming["lookahead"] == model.decoder.lookahead
    for graph, first_in, first_out in (
        ("encode_step", ["audio"], ["codes"]),
        ("decode_step", ["codes"], ["audio", "tail"]),
    ):
        entry = streaming[graph]
        assert entry["file"] in manifest["files"]
        proto = onnx.load(str(directory / entry["file"]))
        names = [s["name"] for s in entry["state"]]
        assert names and len(set(names)) == len(names)
        assert [i.name for i in proto.graph.input] == first_in + [f"state.{n}" for n in names]
        assert [o.name for o in proto.graph.output] == first_out + [f"next.{n}" for n in names]
        for spec, graph_input in zip(entry["state"], proto.graph.input[1:]):
            dims = graph_input.type.tensor_type.shape.dim
            assert [d.dim_param or d.dim_value for d in dims] == [
                d if d != "batch" else dims[i].dim_param for i, d in enumerate(spec["shape"])
            ]
        props = {p.key: p.value for p in proto.metadata_props}
        assert props["chunk_samples"] == str(CHUNK_FRAMES * 320) and props["codec.graph"] == graph


def test_onnx_streaming_equals_torch_streaming_and_offline(exported):
    model, directory, manifest = exported
    runtime = OnnxCodec(directory)
    batch, step, delay = 3, CHUNK_FRAMES * 320, manifest["streaming"]["lookahead"]  # exported at batch 2
    audio = torch.stack([speechlike(0.48, seed=i) for i in range(batch)])[:, None]  # 24 frames
    offline = model.tokenize(audio, 16000)
    steps = [1, 2, 0, 3, 1, 5]  # steps per call: any multiple of the chunk, none included
    onnx_codes, onnx_audio, torch_codes, torch_audio, pos = [], [], [], [], 0
    with runtime.streaming(batch), model.streaming(batch):
        for n in steps:
            chunk = audio[..., pos : pos + n * step]
            onnx_codes.append(runtime.encode_chunk(chunk))
            torch_codes.append(model.encode_chunk(chunk))
            onnx_audio.append(runtime.decode_chunk(onnx_codes[-1]))
            torch_audio.append(model.decode_chunk(onnx_codes[-1]))
            pos += n * step
        onnx_audio.append(runtime.flush())
        torch_audio.append(model.flush())
        with pytest.raises(ValueError, match="multiple of the exported step"):
            runtime.encode_chunk(audio[..., :320])
    codes = torch.cat(onnx_codes, -1)
    assert codes.shape == offline.codes.shape
    assert (codes == torch.cat(torch_codes, -1)).all(1).float().mean() >= 0.99
    assert (codes == offline.codes).all(1).float().mean() >= 0.99  # torch guarantees streaming == offline
    streamed = torch.cat(onnx_audio, -1)
    assert streamed.shape == (batch, 1, audio.shape[-1] + delay)
    assert (streamed - torch.cat(torch_audio, -1)).abs().max() <= 1e-3
    assert not streamed[..., :delay].any(), "the first `lookahead` samples are silence"
    assert (streamed[..., delay:] - model.detokenize(codes)).abs().max() <= 1e-3
    with pytest.raises(ValueError, match="not streaming"):
        runtime.encode_chunk(audio[..., :step])


def test_reset_and_a_lower_bitrate(exported):
    model, directory, _ = exported
    runtime = OnnxCodec(directory)
    audio = speechlike(0.16)[None, None]  # 8 frames: 4 steps
    with runtime.streaming(1) as session:
        first = session.encode_chunk(audio, num_codebooks=2)
        decoded = session.decode_chunk(first)
        session.reset()
        assert torch.equal(session.encode_chunk(audio, num_codebooks=2), first)
        assert torch.equal(session.decode_chunk(first), decoded)
    assert first.shape == (1, 2, 8)
    with model.streaming(1):
        assert (decoded - model.decode_chunk(first)).abs().max() <= 1e-3


@dataclass
class _Sum:
    total: torch.Tensor
    seen: object


class _RunningSum(StreamingModule):
    """A toy part: the running sum of its inputs over the stream."""

    def __init__(self, seen: object = None) -> None:
        super().__init__()
        self.seen = seen

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        total = self.streaming_state.total + x.cumsum(-1)
        self.streaming_state.total = total[..., -1:]
        return total

    def init_state(self, batch_size: int) -> _Sum:
        return _Sum(torch.zeros(batch_size, 1), torch.zeros(0) if self.seen is None else self.seen)


class _Graph(torch.nn.Module):
    def __init__(self, seen: object = None) -> None:
        super().__init__()
        self.part = _RunningSum(seen)

    def step(self, x: torch.Tensor) -> torch.Tensor:
        return self.part(x)


def test_a_new_streaming_part_gets_named_state_without_exporter_edits():
    graph = _Graph()
    step = StatefulStep(graph, "step")
    assert [(s.name, s.shape) for s in step.layout] == [("part.total", (None, 1))]  # the empty field is left out
    x = torch.arange(6.0).reshape(2, 3)
    out, state = step(x, *step.initial_state(2))
    out2, _ = step(x, state)
    assert torch.equal(out2, out + out[:, -1:]) and graph.part.streaming_state is None
    with pytest.raises(ValueError, match="not a tensor"):
        state_layout(_Graph(seen=3))
    with pytest.raises(ValueError, match="start at zero"):
        state_layout(_Graph(seen=torch.ones(1)))
