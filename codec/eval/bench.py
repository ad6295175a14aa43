"""Speed and memory benchmark behind `codec bench` (method in docs/benchmarks.md).

Speed is × real time = audio seconds / wall seconds, the median of a few repeats after a warm-up
call. Systems are measured round-robin (every repeat visits every system, starting one later each
time) so that machine noise hits them alike. Memory is the peak resident-set growth during the
warm-up call, read from Linux's VmHWM after resetting it through /proc/self/clear_refs (freed C-heap
memory is first returned to the OS with glibc's malloc_trim, so reused memory counts too).
"""

from __future__ import annotations

import ctypes
import gc
import re
import resource
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from codec.config import CodecConfig, DecoderConfig

STATUS = Path("/proc/self/status")
CLEAR_REFS = Path("/proc/self/clear_refs")


@dataclass(frozen=True)
class BenchSystem:
    """A tokenizer under test: audio [B, 1, T] at `sample_rate` -> codes -> audio."""

    name: str
    sample_rate: int
    params: int
    tokenize: Callable[[torch.Tensor], Any]
    detokenize: Callable[[Any], Any]
    note: str = ""


@dataclass(frozen=True)
class BenchResult:
    """Speed and memory of one operation of one system at one thread count and batch size."""

    system: str
    op: str
    threads: int
    batch: int
    audio_seconds: float
    median_s: float
    x_realtime: float
    peak_rss_mb: float | None
    params_m: float


@dataclass
class _Timing:
    """Raw times and memory collected for one (system, op)."""

    times: list[float]
    peak_rss_mb: float | None


# ---- memory ---------------------------------------------------------------------------------


def _status_kb(field: str) -> int | None:
    """A `VmXXX:` value from /proc/self/status in kB, or None where unavailable."""
    try:
        match = re.search(rf"^{field}:\s+(\d+)", STATUS.read_text(), re.MULTILINE)
    except OSError:
        return None
    return int(match.group(1)) if match else None


def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) of this process; False where not supported."""
    try:
        CLEAR_REFS.write_text("5")
        return True
    except OSError:
        return False


def _release_free_memory() -> None:
    """Give freed C-heap memory back to the OS (glibc malloc_trim) so reused memory counts as growth."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def measure_peak_rss(fn: Callable[[], Any]) -> tuple[Any, float | None]:
    """Run fn(); (its result, peak RSS growth in MiB during the call or None if unmeasurable)."""
    gc.collect()
    _release_free_memory()
    before = _status_kb("VmRSS")
    if before is not None and _reset_peak():
        result = fn()
        peak = _status_kb("VmHWM")
        return result, None if peak is None else max(0, peak - before) / 1024.0
    start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = fn()
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - start
    return result, (grown / 1024.0) if grown > 0 else None


# ---- systems --------------------------------------------------------------------------------


def _count(module: torch.nn.Module) -> int:
    """Number of parameters."""
    return sum(p.numel() for p in module.parameters())


def codec_system(model: Any, name: str | None = None) -> BenchSystem:
    """Our codec (torch Codec or codec.onnx OnnxCodec) through its public tokenize/detokenize API."""
    rate = model.sample_rate
    params = model.parameter_count() if hasattr(model, "parameter_count") else _count(model)
    return BenchSystem(
        name or model.model_id,
        rate,
        params,
        lambda audio: model.tokenize(audio, rate),
        model.detokenize,
        f"{model.cfg.encoder.kind} encoder, {model.cfg.decoder.kind} decoder",
    )


def default_config_systems(cfg: CodecConfig | None = None) -> list[BenchSystem]:
    """The default config with random weights, once per decoder kind (vocoder, conv)."""
    from codec.models.codec import Codec

    cfg = cfg or CodecConfig()
    systems = []
    for kind in ("vocoder", "conv"):
        torch.manual_seed(0)
        variant = replace(
            cfg,
            name=f"{cfg.name}-{kind}",
            quantizer=replace(cfg.quantizer, kmeans_init=False),
            decoder=DecoderConfig(kind, **{k: v for k, v in asdict(cfg.decoder).items() if k != "kind"}),
        )
        systems.append(codec_system(Codec(variant).eval(), f"codec ({kind} decoder)"))
    return systems


def _encodec() -> BenchSystem:
    """EnCodec 24 kHz architecture, 6 kbps (8 codebooks at 75 Hz), random weights."""
    from encodec.model import EncodecModel

    model = EncodecModel.encodec_model_24khz(pretrained=False).eval()
    model.set_target_bandwidth(6.0)
    return BenchSystem("EnCodec 24k (6 kbps)", 24000, _count(model), model.encode, model.decode)


def _dac() -> BenchSystem:
    """DAC 16 kHz architecture (12 codebooks), random weights."""
    import dac

    model = dac.DAC(sample_rate=16000, encoder_rates=[2, 4, 5, 8], decoder_rates=[8, 5, 4, 2], n_codebooks=12).eval()
    return BenchSystem(
        "DAC 16k",
        16000,
        _count(model),
        lambda a: model.encode(model.preprocess(a, 16000))[1],
        lambda codes: model.decode(model.quantizer.from_codes(codes)[0]),
    )


def _speechtokenizer() -> BenchSystem:
    """SpeechTokenizer (HuBERT-distilled RVQ, 8 x 1024 at 50 Hz) architecture, random weights."""
    from speechtokenizer import SpeechTokenizer

    model = SpeechTokenizer(
        {
            "n_filters": 64,
            "dimension": 1024,
            "semantic_dimension": 768,
            "strides": [8, 5, 4, 2],
            "lstm_layers": 2,
            "bidirectional": True,
            "dilation_base": 2,
            "residual_kernel_size": 3,
            "n_residual_layers": 1,
            "activation": "ELU",
            "sample_rate": 16000,
            "n_q": 8,
            "codebook_size": 1024,
        }
    ).eval()
    return BenchSystem("SpeechTokenizer", 16000, _count(model), model.encode, model.decode)


def _snac() -> BenchSystem:
    """SNAC 24 kHz speech architecture (3 scales, 0.98 kbps), random weights."""
    from snac import SNAC

    model = SNAC(
        sampling_rate=24000,
        encoder_dim=48,
        encoder_rates=[2, 4, 8, 8],
        decoder_dim=1024,
        decoder_rates=[8, 8, 4, 2],
        attn_window_size=None,
        codebook_size=4096,
        vq_strides=[4, 2, 1],
    ).eval()
    return BenchSystem("SNAC 24k", 24000, _count(model), model.encode, model.decode)


def _mimi() -> BenchSystem:
    """Mimi (transformers.MimiModel, default config, 8 of 32 codebooks at 12.5 Hz), random weights."""
    from transformers import MimiConfig, MimiModel

    model = MimiModel(MimiConfig()).eval()
    return BenchSystem(
        "Mimi (8 codebooks)",
        24000,
        _count(model),
        lambda a: model.encode(a, num_quantizers=8).audio_codes,
        lambda codes: model.decode(codes).audio_values,
    )


PEERS: dict[str, Callable[[], BenchSystem]] = {
    "encodec": _encodec,
    "dac": _dac,
    "speechtokenizer": _speechtokenizer,
    "snac": _snac,
    "mimi": _mimi,
}
PEER_PACKAGES = {
    "encodec": "encodec",
    "dac": "descript-audio-codec",
    "speechtokenizer": "speechtokenizer beartype",
    "snac": "snac",
    "mimi": "transformers",
}


def peer_systems(names: Sequence[str] = tuple(PEERS)) -> tuple[list[BenchSystem], list[str]]:
    """Random-weight peer architectures whose packages import here; a note for each one skipped."""
    systems, notes = [], []
    for name in names:
        torch.manual_seed(0)
        try:
            systems.append(PEERS[name]())
        except ImportError as err:
            notes.append(f"{name} skipped: {err} (pip install {PEER_PACKAGES[name]})")
        except Exception as err:  # a peer package that imports but breaks must not stop the benchmark
            notes.append(f"{name} skipped: {type(err).__name__}: {err}")
    return systems, notes


# ---- measurement ----------------------------------------------------------------------------


def bench_signal(batch: int, seconds: float, sample_rate: int, seed: int = 0) -> torch.Tensor:
    """Deterministic noisy harmonic audio [batch, 1, T] (content does not change the speed)."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(int(seconds * sample_rate)) / sample_rate
    tone = sum(torch.sin(2 * torch.pi * 140 * k * t) / k for k in range(1, 8))
    return (0.1 * tone + 0.02 * torch.randn(batch, 1, t.numel(), generator=g)).float()


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    """(fn(), wall seconds)."""
    start = time.perf_counter()
    with torch.inference_mode():
        out = fn()
    return out, time.perf_counter() - start


def _rotations(items: Sequence[Any], repeats: int) -> Iterator[Any]:
    """items in round-robin order, starting one later on each repeat."""
    for r in range(repeats):
        for i in range(len(items)):
            yield items[(r + i) % len(items)]


def _measure_setting(
    systems: Sequence[BenchSystem], seconds: float, batch: int, repeats: int, bar: Any
) -> dict[tuple[str, str], _Timing]:
    """Warm-up (with memory) then round-robin timed repeats for one thread count and batch size."""
    inputs = {s.name: bench_signal(batch, seconds, s.sample_rate) for s in systems}
    codes: dict[str, Any] = {}
    timings: dict[tuple[str, str], _Timing] = {}
    with torch.inference_mode():
        for s in systems:
            codes[s.name], mem = measure_peak_rss(partial(s.tokenize, inputs[s.name]))
            timings[(s.name, "tokenize")] = _Timing([], mem)
            _, mem = measure_peak_rss(partial(s.detokenize, codes[s.name]))
            timings[(s.name, "detokenize")] = _Timing([], mem)
            bar.update(1)
    for s in _rotations(systems, repeats):
        timings[(s.name, "tokenize")].times.append(_timed(partial(s.tokenize, inputs[s.name]))[1])
        timings[(s.name, "detokenize")].times.append(_timed(partial(s.detokenize, codes[s.name]))[1])
        bar.update(1)
    return timings


def run_bench(
    systems: Sequence[BenchSystem],
    seconds: float = 10.0,
    threads: Sequence[int] = (1,),
    batches: Sequence[int] = (1,),
    repeats: int = 3,
    progress: bool = True,
) -> list[BenchResult]:
    """Measure tokenize and detokenize of every system at every (threads, batch)."""
    if not systems or repeats < 1 or seconds <= 0:
        raise ValueError("run_bench needs at least one system, repeats >= 1 and seconds > 0")
    saved = torch.get_num_threads()
    results: list[BenchResult] = []
    total = len(threads) * len(batches) * len(systems) * (repeats + 1)
    with tqdm(total=total, desc="codec bench", disable=not progress) as bar:
        try:
            for n_threads in threads:
                torch.set_num_threads(int(n_threads))
                for batch in batches:
                    timings = _measure_setting(systems, seconds, batch, repeats, bar)
                    results += _results(systems, timings, n_threads, batch, seconds)
        finally:
            torch.set_num_threads(saved)
    return results


def _results(
    systems: Sequence[BenchSystem], timings: dict[tuple[str, str], _Timing], threads: int, batch: int, seconds: float
) -> list[BenchResult]:
    """BenchResult rows from the raw timings of one setting."""
    rows = []
    for s in systems:
        for op in ("tokenize", "detokenize"):
            t = timings[(s.name, op)]
            median = statistics.median(t.times)
            rows.append(
                BenchResult(
                    s.name,
                    op,
                    threads,
                    batch,
                    batch * seconds,
                    median,
                    batch * seconds / median,
                    t.peak_rss_mb,
                    s.params / 1e6,
                )
            )
    return rows


def results_table(results: Sequence[BenchResult]) -> str:
    """Markdown table: one row per system, threads and batch; both operations side by side."""
    head = (
        "| system | params (M) | threads | batch | tokenize × RT | detokenize × RT "
        "| tokenize peak RSS MiB | detokenize peak RSS MiB |"
    )
    lines = [head, "|" + " --- |" * 8]
    keyed = {(r.system, r.threads, r.batch, r.op): r for r in results}
    for system, threads, batch in dict.fromkeys((r.system, r.threads, r.batch) for r in results):
        tok, det = keyed[(system, threads, batch, "tokenize")], keyed[(system, threads, batch, "detokenize")]
        mem = [f"{r.peak_rss_mb:.0f}" if r.peak_rss_mb is not None else "–" for r in (tok, det)]
        lines.append(
            f"| {system} | {tok.params_m:.1f} | {threads} | {batch} | {tok.x_realtime:.1f} | "
            f"{det.x_realtime:.1f} | {mem[0]} | {mem[1]} |"
        )
    return "\n".join(lines)


__all__ = [
    "BenchResult",
    "BenchSystem",
    "bench_signal",
    "codec_system",
    "default_config_systems",
    "measure_peak_rss",
    "peer_systems",
    "results_table",
    "run_bench",
]
