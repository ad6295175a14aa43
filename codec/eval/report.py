"""Write an EvalReport as report.json, report.md and matplotlib figures (Agg backend)."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import torch

from codec.eval.protocol import EvalReport, Example, SystemSummary
from codec.io.files import atomic_write_bytes

JSON_FILE = "report.json"
MARKDOWN_FILE = "report.md"
METRICS_FIGURE = "metrics_vs_codebooks.png"
SPECTROGRAM_FIGURE = "spectrogram.png"
PLOTTED = (
    ("mel", "log-mel distance (lower is better)"),
    ("si_sdr", "SI-SDR dB"),
    ("pesq", "PESQ-WB"),
    ("stoi", "STOI"),
)


def write_report(report: EvalReport, directory: str | Path) -> list[Path]:
    """Write report.json, report.md and the PNG figures into `directory`; the paths written."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = [directory / JSON_FILE, directory / MARKDOWN_FILE]
    atomic_write_bytes(written[0], (json.dumps(report_dict(report), indent=2, allow_nan=False) + "\n").encode())
    atomic_write_bytes(written[1], markdown(report).encode())
    written += plot_figures(report, directory)
    return written


def report_dict(report: EvalReport) -> dict[str, Any]:
    """JSON-ready dict: config, command, per-system means, per-file scores, codebooks, notes (NaN -> null)."""
    data = dataclasses.asdict(dataclasses.replace(report, example=None))
    data.pop("example")
    return _clean(data)


def _clean(value: Any) -> Any:
    """Replace NaN/Inf by None, recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def _fmt(value: float | None, digits: int = 3, missing: bool = False) -> str:
    """A table cell: the number, `missing` (package absent) or `–` (not applicable)."""
    if missing:
        return "missing"
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}f}"


def _system_label(s: SystemSummary) -> str:
    """`codec k=1 (coarse)` etc."""
    return f"{s.name} ({s.role})" if s.role else s.name


def systems_table(report: EvalReport) -> str:
    """Markdown table of the mean scores of every system."""
    with_asr = any(s.wer is not None for s in report.systems)
    head = [
        "system",
        "kbps",
        "entropy kbps",
        "mel ↓",
        "STFT ↓",
        "SI-SDR ↑",
        "PESQ ↑",
        "STOI ↑",
        "DNSMOS ↑",
        "speaker sim ↑",
        "level dB",
    ]
    head += ["WER ↓", "CER ↓"] if with_asr else []
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for s in report.systems:
        sc = s.scores
        cells = [
            _system_label(s),
            _fmt(s.kbps, 2),
            _fmt(s.empirical_kbps, 2),
            _fmt(sc.mel),
            _fmt(sc.stft),
            _fmt(sc.si_sdr, 2),
            _fmt(sc.pesq, 2, "PESQ" in report.missing_metrics),
            _fmt(sc.stoi, 3, "STOI" in report.missing_metrics),
            _fmt(sc.dnsmos, 2, "DNSMOS" in report.missing_metrics),
            _fmt(sc.speaker_sim, 3, "speaker similarity" in report.missing_metrics),
            _fmt(sc.level_db, 2),
        ]
        cells += [_fmt(s.wer), _fmt(s.cer)] if with_asr else []
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def codebooks_table(report: EvalReport) -> str:
    """Markdown table of per-codebook usage, perplexity, entropy, phone purity and PNMI."""
    lines = [
        "| codebook | role | usage | perplexity | entropy bits | phone purity | PNMI |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for c in report.codebooks:
        lines.append(
            f"| {c.index} | {c.role} | {_fmt(c.used_fraction)} | {_fmt(c.perplexity, 1)} | "
            f"{_fmt(c.entropy_bits, 2)} | {_fmt(c.purity)} | {_fmt(c.pnmi)} |"
        )
    return "\n".join(lines)


def markdown(report: EvalReport) -> str:
    """The whole report.md text."""
    parts = [
        "# codec eval report",
        "",
        f"- model: `{report.model_id}`",
        f"- files: {report.num_files}; sample rate {report.sample_rate} Hz; frame rate {report.frame_rate:g} Hz",
        f"- command: `{report.command}`" if report.command else "",
        "",
        "## Systems (means over files)",
        "",
        systems_table(report),
        "",
        "kbps: nominal bitrate (codec: k × log2(codebook size) × frame rate). entropy kbps: unigram-entropy "
        "bitrate over this set. `missing`: the metric's package is not installed.",
        "",
        "## Codebooks",
        "",
        codebooks_table(report),
        "",
        f"![metrics]({METRICS_FIGURE})",
        "",
        f"![spectrogram]({SPECTROGRAM_FIGURE})",
        "",
    ]
    if report.notes:
        parts += ["## Notes", ""] + [f"- {n}" for n in report.notes] + [""]
    if report.failed:
        parts += ["## Failed inputs", ""] + [f"- `{path}`: {why}" for path, why in report.failed] + [""]
    return "\n".join(p for p in parts if p is not None)


def plot_figures(report: EvalReport, directory: Path) -> list[Path]:
    """Metric-vs-bitrate panels (codec at each k, baselines as points) and the example spectrograms."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = [directory / METRICS_FIGURE]
    fig, axes = plt.subplots(1, len(PLOTTED), figsize=(4.2 * len(PLOTTED), 3.6))
    for ax, (key, title) in zip(axes, PLOTTED):
        _plot_metric(ax, report, key, title)
    axes[0].legend(fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(paths[0], dpi=110)
    plt.close(fig)
    if report.example is not None:
        paths.append(directory / SPECTROGRAM_FIGURE)
        _plot_spectrograms(plt, report.example, paths[-1])
    return paths


def _plot_metric(ax: Any, report: EvalReport, key: str, title: str) -> None:
    """One panel: codec line annotated with k, one marker per baseline family."""
    codec = [
        (s.kbps, getattr(s.scores, key), s.num_codebooks)
        for s in report.systems
        if s.kind == "codec" and getattr(s.scores, key) is not None
    ]
    if codec:
        ax.plot([c[0] for c in codec], [c[1] for c in codec], "o-", label="codec (k codebooks)")
        for x, y, k in codec:
            ax.annotate(f"k={k}", (x, y), textcoords="offset points", xytext=(3, 4), fontsize=7)
    families: dict[str, list[tuple[float, float]]] = {}
    for s in report.systems:
        if s.kind == "baseline" and getattr(s.scores, key) is not None:
            families.setdefault(s.name.split("-")[0], []).append((s.kbps, getattr(s.scores, key)))
    for (family, points), marker in zip(sorted(families.items()), "s^vD"):
        ax.plot([p[0] for p in points], [p[1] for p in points], marker, linestyle="--", label=family)
    ax.set_xscale("log")
    ax.set_xlabel("bitrate (kbit/s)")
    ax.set_title(title + (" — missing" if not codec and not families else ""), fontsize=9)
    ax.grid(alpha=0.3)


def _log_spectrogram(audio: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """dB magnitude [freq, frames] with a 32 ms Hann window and 8 ms hop."""
    n_fft = max(16, int(0.032 * sample_rate))
    spec = torch.stft(
        audio.float(), n_fft, hop_length=n_fft // 4, window=torch.hann_window(n_fft), return_complex=True
    ).abs()
    return 20 * torch.log10(spec.clamp(min=1e-5))


def _plot_spectrograms(plt: Any, ex: Example, path: Path) -> None:
    """Original, full and coarse resynthesis of the example file, one above the other."""
    rows = (("original", ex.original), ("full resynthesis", ex.full), ("coarse only", ex.coarse))
    fig, axes = plt.subplots(len(rows), 1, figsize=(9, 7), sharex=True)
    seconds = ex.original.numel() / ex.sample_rate
    for ax, (title, audio) in zip(axes, rows):
        ax.imshow(
            _log_spectrogram(audio, ex.sample_rate).numpy(),
            origin="lower",
            aspect="auto",
            extent=(0, seconds, 0, ex.sample_rate / 2000),
            vmin=-100,
            vmax=20,
            cmap="magma",
        )
        ax.set_title(f"{ex.file}: {title}", fontsize=9)
        ax.set_ylabel("kHz")
    axes[-1].set_xlabel("seconds")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


__all__ = ["codebooks_table", "markdown", "plot_figures", "report_dict", "systems_table", "write_report"]
