"""The evaluation protocol behind `codec eval` (defined in docs/evaluation.md).

For every file and every scored number of codebooks k: tokenize, keep the first k codebooks,
detokenize and score against the original at the model rate. Classic codecs (codec.eval.baselines)
are scored with the same metrics on the same audio. Codebook statistics, phone purity / PNMI
(when alignments are given) and optional WER/CER (a local faster-whisper model) complete it.
"""

from __future__ import annotations

import importlib.util
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from codec import metrics
from codec.data.manifest import Utterance
from codec.errors import one_line
from codec.eval.baselines import Baseline, run_baseline
from codec.io.audio import prepare_batch, resample
from codec.jobs.failures import record_failure
from codec.jobs.inputs import collect_inputs

IGNORED_PHONES = ("sil", "sp", "spn", "")
ASR_SAMPLE_RATE = 16000
ASR_INSTALL_HINT = "pip install faster-whisper"

Transcriber = Callable[[np.ndarray], str]
"""16 kHz float32 mono audio -> transcript."""


@dataclass(frozen=True)
class Scores:
    """Reconstruction metrics of one (or the mean over) file(s); None = not computed."""

    mel: float | None
    stft: float | None
    si_sdr: float | None
    pesq: float | None
    stoi: float | None
    dnsmos: float | None = None
    speaker_sim: float | None = None
    level_db: float | None = None


@dataclass(frozen=True)
class System:
    """Something that turns audio into reconstructed audio: the codec at k codebooks, or a baseline."""

    name: str
    kind: str
    kbps: float
    num_codebooks: int | None = None
    role: str = ""
    baseline: Baseline | None = None


@dataclass(frozen=True)
class FileScore:
    """Scores of one system on one file."""

    file: str
    system: str
    scores: Scores


@dataclass
class SystemSummary:
    """Mean scores of one system over the evaluated files."""

    name: str
    kind: str
    kbps: float
    num_codebooks: int | None
    role: str
    empirical_kbps: float | None
    scores: Scores
    wer: float | None = None
    cer: float | None = None


@dataclass(frozen=True)
class CodebookStats:
    """Usage of one codebook over the set, and how well it predicts phones."""

    index: int
    role: str
    used_fraction: float
    perplexity: float
    entropy_bits: float
    purity: float | None
    pnmi: float | None


@dataclass
class Example:
    """Audio of one file for the spectrogram figure (not written to report.json)."""

    file: str
    sample_rate: int
    original: torch.Tensor
    full: torch.Tensor
    coarse: torch.Tensor


@dataclass
class EvalReport:
    """Everything `codec eval` measured."""

    model_id: str
    model_config: dict[str, Any]
    sample_rate: int
    frame_rate: float
    num_files: int
    systems: list[SystemSummary]
    files: list[FileScore]
    codebooks: list[CodebookStats]
    notes: list[str] = field(default_factory=list)
    missing_metrics: list[str] = field(default_factory=list)
    original_dnsmos: float | None = None
    command: str = ""
    example: Example | None = None
    failed: list[tuple[str, str]] = field(default_factory=list)


def load_eval_items(specs: Sequence[str], max_files: int | None = None) -> tuple[list[Utterance], list[str]]:
    """Files/dirs/globs/manifests -> items (with `text` and `alignment` from JSONL rows) and error lines."""
    collected = collect_inputs(list(specs))
    items = collected.items
    errors = [f"{spec}: {reason}" for spec, reason in collected.errors]
    return (items[:max_files] if max_files else items), errors


def scored_codebook_counts(num_codebooks: int, num_semantic: int, requested: Sequence[int] | None) -> list[int]:
    """Sorted k values to score: the requested ones (default 1, 2, 4, 8 ...) plus coarse and full."""
    if requested is None:
        requested = [2**i for i in range(int(math.log2(num_codebooks)) + 1)]
    bad = [k for k in requested if not 1 <= k <= num_codebooks]
    if bad:
        raise ValueError(f"--num-codebooks values must be in [1, {num_codebooks}], got {bad}")
    return sorted(set(requested) | {num_semantic, num_codebooks})


def codec_systems(model: Any, ks: Sequence[int]) -> list[System]:
    """One System per k, tagged `coarse` (k = num_semantic_codebooks) and `full` (k = K)."""
    bits = math.log2(model.codebook_size) * model.frame_rate / 1000.0
    coarse, full = model.cfg.quantizer.num_semantic_codebooks, model.num_codebooks
    systems = []
    for k in ks:
        role = "/".join(r for r, n in (("coarse", coarse), ("full", full)) if n == k)
        systems.append(System(f"codec k={k}", "codec", k * bits, k, role))
    return systems


def baseline_systems(baselines: Sequence[Baseline]) -> list[System]:
    """One System per classic codec bitrate."""
    return [System(b.name, "baseline", b.kbps, baseline=b) for b in baselines]


OPTIONAL_METRICS = {"pesq": "PESQ", "pystoi": "STOI", "speechmos": "DNSMOS", "resemblyzer": "speaker similarity"}


class Scorer:
    """Computes Scores for (reference, estimate) pairs; the optional metrics only when their packages exist."""

    def __init__(self, sample_rate: int, perceptual: bool = True) -> None:
        self.sample_rate = sample_rate
        self.missing = [name for name in OPTIONAL_METRICS if importlib.util.find_spec(name) is None]
        self.skipped = [] if perceptual else ["speechmos", "resemblyzer"]
        self.failures: dict[str, int] = {}

    def __call__(self, ref: torch.Tensor, est: torch.Tensor) -> Scores:
        """All metrics of one pair of mono [T] signals."""
        sr = self.sample_rate
        return Scores(
            mel=metrics.log_mel_distance(ref, est, sr),
            stft=metrics.stft_distance(ref, est, sr).total,
            si_sdr=metrics.si_sdr(ref, est),
            pesq=self._optional("pesq", lambda: metrics.pesq_wb(ref, est, sr)),
            stoi=self._optional("pystoi", lambda: metrics.stoi(ref, est, sr)),
            dnsmos=self._optional("speechmos", lambda: metrics.dnsmos(est, sr)),
            speaker_sim=self._optional("resemblyzer", lambda: metrics.speaker_similarity(ref, est, sr)),
            level_db=metrics.level_difference_db(ref, est),
        )

    def reference(self, ref: torch.Tensor) -> float | None:
        """DNSMOS of the original itself (the ceiling for the no-reference score)."""
        return self._optional("speechmos", lambda: metrics.dnsmos(ref, self.sample_rate))

    def _optional(self, package: str, compute: Callable[[], float]) -> float | None:
        """The value, or None when the package is missing or skipped, or the metric refuses this pair."""
        if package in self.missing or package in self.skipped:
            return None
        try:
            return compute()
        except ValueError:
            self.failures[package] = self.failures.get(package, 0) + 1
            return None


class _Accumulator:
    """Codebook counts and phone-labelled codes gathered over the files."""

    def __init__(self, num_codebooks: int, codebook_size: int) -> None:
        self.counts = torch.zeros(num_codebooks, codebook_size, dtype=torch.int64)
        self.codebook_size = codebook_size
        self.codes: list[torch.Tensor] = []
        self.labels: list[torch.Tensor] = []
        self.label_map: dict[str, int] = {}

    def add(self, codes: torch.Tensor, alignment: Sequence[tuple[float, float, str]] | None, frame_rate: float) -> None:
        """Add one item's valid codes [K, F] (and its frame phone labels when aligned)."""
        self.counts += metrics.codebook_counts(codes, None, self.codebook_size)
        if alignment:
            labels, self.label_map = metrics.frame_phone_labels(
                alignment, codes.shape[1], frame_rate, self.label_map, IGNORED_PHONES
            )
            self.codes.append(codes)
            self.labels.append(labels)

    def stats(self, num_semantic: int) -> list[CodebookStats]:
        """Per-codebook usage, perplexity, entropy, purity and PNMI."""
        usage = metrics.usage_from_counts(self.counts)
        codes = torch.cat(self.codes, dim=1) if self.codes else None
        labels = torch.cat(self.labels) if self.labels else None
        out = []
        for k in range(self.counts.shape[0]):
            purity = pnmi = None
            if codes is not None and labels is not None and bool((labels >= 0).any()):
                purity = metrics.phone_purity(codes[k], labels)
                pnmi = _or_none(partial(metrics.pnmi, codes[k], labels))
            out.append(
                CodebookStats(
                    k,
                    "semantic" if k < num_semantic else "acoustic",
                    usage.used_fraction[k],
                    usage.perplexity[k],
                    usage.entropy_bits[k],
                    purity,
                    pnmi,
                )
            )
        return out

    def empirical_kbps(self, k: int, frame_rate: float) -> float:
        """Unigram-entropy bitrate of the first k codebooks in kbit/s."""
        return metrics.usage_from_counts(self.counts[:k]).bitrate(frame_rate) / 1000.0


def _or_none(compute: Callable[[], float]) -> float | None:
    """compute(), or None if it raises ValueError."""
    try:
        return compute()
    except ValueError:
        return None


def evaluate(
    model: Any,
    items: Sequence[Utterance],
    num_codebooks: Sequence[int] | None = None,
    baselines: Sequence[Baseline] = (),
    transcriber: Transcriber | None = None,
    progress: bool = True,
    perceptual: bool = True,
) -> EvalReport:
    """Score the codec at each k (coarse and full always) and the baselines on every item.

    An item that cannot be read or scored is recorded in `failed` (path, one-line reason) and the
    others go on; ValueError only when no item at all could be scored.
    """
    if not items:
        raise ValueError("no files to evaluate")
    sr, num_semantic = model.sample_rate, model.cfg.quantizer.num_semantic_codebooks
    ks = scored_codebook_counts(model.num_codebooks, num_semantic, num_codebooks)
    systems = codec_systems(model, ks) + baseline_systems(baselines)
    scorer, acc = Scorer(sr, perceptual), _Accumulator(model.num_codebooks, model.codebook_size)
    files: list[FileScore] = []
    asr_audio: dict[str, list[np.ndarray]] = {}
    example = None
    reference_mos: list[float | None] = []
    scored: list[Utterance] = []
    failed: list[tuple[str, str]] = []
    for item in tqdm(items, desc="codec eval", unit="file", disable=not progress):
        try:
            wav, lengths = prepare_batch([item.path], None, sr)
            ref = wav[0, 0]
            tokens = model.tokenize(wav, sr, lengths=lengths)
            outputs = {s.name: _reconstruct(model, tokens, ref, s) for s in systems}
        except (OSError, ValueError, RuntimeError) as err:
            record_failure(failed, item.path, one_line(err, item.path))
            continue
        scored.append(item)
        acc.add(tokens.codes[0, :, : int(tokens.lengths[0])].cpu(), item.alignment, model.frame_rate)
        files.extend(FileScore(item.id, name, scorer(ref, est)) for name, est in outputs.items())
        reference_mos.append(scorer.reference(ref))
        by_role = {s.role: outputs[s.name] for s in systems if s.role}
        coarse, full = _role_audio(by_role, "coarse"), _role_audio(by_role, "full")
        if example is None:
            example = Example(item.id, sr, ref, full, coarse)
        if transcriber is not None:
            for name, audio in (("original", ref), ("coarse", coarse), ("full", full)):
                asr_audio.setdefault(name, []).append(resample(audio[None], sr, ASR_SAMPLE_RATE)[0].numpy())
    if not scored:
        raise ValueError(f"no file could be evaluated ({len(failed)} failed; first: {failed[0][0]}: {failed[0][1]})")
    items = scored
    summaries = _summaries(systems, files, acc, model.frame_rate)
    notes = _scorer_notes(scorer)
    if transcriber is not None:
        notes += _add_asr(summaries, asr_scores(transcriber, asr_audio, [i.text for i in items]))
    if not any(i.alignment for i in items):
        notes.append("no phone alignments in the inputs: purity and PNMI not computed")
    return EvalReport(
        model_id=model.model_id,
        model_config=_config_dict(model),
        sample_rate=sr,
        frame_rate=model.frame_rate,
        num_files=len(items),
        systems=summaries,
        files=files,
        codebooks=acc.stats(num_semantic),
        notes=notes,
        missing_metrics=sorted(OPTIONAL_METRICS[m] for m in scorer.missing),
        example=example,
        original_dnsmos=_mean(reference_mos),
        failed=failed,
    )


def _reconstruct(model: Any, tokens: Any, ref: torch.Tensor, system: System) -> torch.Tensor:
    """Mono [T] reconstruction of `ref` by `system`."""
    if system.baseline is not None:
        return run_baseline(system.baseline, ref, model.sample_rate)
    return model.detokenize(tokens.truncate(system.num_codebooks))[0, 0].cpu()


def _role_audio(by_role: dict[str, torch.Tensor], role: str) -> torch.Tensor:
    """The reconstruction whose role tag contains `role` (`coarse/full` counts for both)."""
    return next(audio for tag, audio in by_role.items() if role in tag.split("/"))


def _mean(values: Sequence[float | None]) -> float | None:
    """Mean of the non-None values, or None if there are none."""
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


def _summaries(
    systems: Sequence[System], files: Sequence[FileScore], acc: _Accumulator, frame_rate: float
) -> list[SystemSummary]:
    """Mean scores per system, with the empirical bitrate for codec rows."""
    out = []
    for s in systems:
        rows = [f.scores for f in files if f.system == s.name]
        means = Scores(*(_mean([getattr(r, name) for r in rows]) for name in Scores.__dataclass_fields__))
        empirical = acc.empirical_kbps(s.num_codebooks, frame_rate) if s.num_codebooks else None
        out.append(SystemSummary(s.name, s.kind, s.kbps, s.num_codebooks, s.role, empirical, means))
    return out


def _add_asr(summaries: list[SystemSummary], scores: ASRScores) -> list[str]:
    """Attach WER/CER to the original (a new row), coarse and full rows; notes to report."""
    if scores.num_items == 0:
        return ["--asr-model given but no input has a `text`: WER/CER not computed"]
    summaries.insert(
        0,
        SystemSummary(
            "original",
            "original",
            float("nan"),
            None,
            "",
            None,
            Scores(0.0, 0.0, None, None, None),
            *scores.rates["original"],
        ),
    )
    for summary in summaries:
        for role in summary.role.split("/") if summary.role else []:
            summary.wer, summary.cer = scores.rates[role]
    return [f"WER/CER over {scores.num_items} transcribed files ({scores.num_words} reference words)"]


def _scorer_notes(scorer: Scorer) -> list[str]:
    """Notes on metrics that were skipped."""
    notes = [f"{m} not installed: its column is marked missing (pip install {m})" for m in scorer.missing]
    notes += [f"{m} refused {n} pair(s) (too short or silent); means exclude them" for m, n in scorer.failures.items()]
    if scorer.skipped:
        notes.append("DNSMOS and speaker similarity skipped (--no-perceptual)")
    return notes


def _config_dict(model: Any) -> dict[str, Any]:
    """The model's configuration as a plain dict."""
    from codec.config import to_dict

    return to_dict(model.cfg)


# ---------------------------------------------------------------------------
# ASR: WER / CER through a local faster-whisper model directory
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ASRScores:
    """Corpus WER/CER per transcribed version (`original`, `coarse`, `full`)."""

    num_items: int
    num_words: int
    rates: dict[str, tuple[float, float]]


def load_transcriber(directory: str | Path) -> Transcriber:
    """A faster-whisper model from a local CTranslate2 directory (no download), int8 on the CPU."""
    if importlib.util.find_spec("faster_whisper") is None:
        raise ImportError(f"--asr-model needs the faster-whisper package, which is not installed ({ASR_INSTALL_HINT})")
    if not (Path(directory) / "model.bin").is_file():
        raise FileNotFoundError(f"{directory}: not a faster-whisper model directory (no model.bin)")
    from faster_whisper import WhisperModel

    whisper = WhisperModel(str(directory), device="cpu", compute_type="int8")

    def transcribe(audio: np.ndarray) -> str:
        # Greedy only: the default temperature fallback samples, so WER would change between runs.
        segments, _ = whisper.transcribe(audio.astype(np.float32), beam_size=1, temperature=0.0)
        return " ".join(s.text.strip() for s in segments)

    return transcribe


def normalize_text(text: str) -> str:
    """Lower case, punctuation removed (apostrophes kept), single spaces."""
    return " ".join(re.sub(r"[^\w\s']", " ", text.lower()).split())


def edit_distance(ref: Sequence[Any], hyp: Sequence[Any]) -> int:
    """Levenshtein distance (substitutions + deletions + insertions)."""
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        diagonal, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            diagonal, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diagonal + (r != h))
    return row[-1]


def error_rates(refs: Sequence[str], hyps: Sequence[str]) -> tuple[float, float]:
    """Corpus (WER, CER): total edits / total reference words (characters) after normalize_text."""
    refs, hyps = [normalize_text(t) for t in refs], [normalize_text(t) for t in hyps]
    words = sum(edit_distance(r.split(), h.split()) for r, h in zip(refs, hyps))
    chars = sum(edit_distance(r, h) for r, h in zip(refs, hyps))
    return words / max(1, sum(len(r.split()) for r in refs)), chars / max(1, sum(len(r) for r in refs))


def asr_scores(transcriber: Transcriber, audio: dict[str, list[np.ndarray]], texts: Sequence[str | None]) -> ASRScores:
    """Transcribe each version of the items that have a text and score it against that text."""
    keep = [i for i, t in enumerate(texts) if t]
    refs = [texts[i] or "" for i in keep]
    rates = {name: error_rates(refs, [transcriber(clips[i]) for i in keep]) for name, clips in audio.items()}
    return ASRScores(len(keep), sum(len(normalize_text(r).split()) for r in refs), rates)


__all__ = [
    "ASRScores",
    "CodebookStats",
    "EvalReport",
    "FileScore",
    "Scorer",
    "Scores",
    "System",
    "SystemSummary",
    "codec_systems",
    "edit_distance",
    "error_rates",
    "evaluate",
    "load_eval_items",
    "load_transcriber",
    "scored_codebook_counts",
]
