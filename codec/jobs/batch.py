"""File-to-file jobs behind the CLI: tokenize and detokenize many files, record failures, carry on."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import soundfile as sf
import torch
from tqdm import tqdm

from codec.data.manifest import Utterance
from codec.errors import one_line
from codec.hub.sources import resolve
from codec.io.audio import load_audio, mono_resampled, save_audio
from codec.io.files import atomic_write_bytes, output_path
from codec.jobs.failures import ERRORS_FILE, record_failure
from codec.models.codec import Codec
from codec.runtime.longform import LONGFORM_THRESHOLD_SECONDS
from codec.tokens import Tokens

TOKENS_SUFFIX = ".safetensors"


@dataclass
class JobReport:
    """Outputs written and failures (input path, one-line reason) of one job."""

    written: list[Path] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    audio_seconds: float = 0.0


def plan_outputs(
    items: list[Utterance], out_dir: Path, suffix: str, force: bool, skip_existing: bool, report: JobReport
) -> list[tuple[Utterance, Path]]:
    """Pair items with output paths; collisions fail the later item; existing outputs need --force."""
    planned, taken = [], {}
    for item in items:
        try:
            out = output_path(out_dir, item.relative, suffix)
        except ValueError as err:
            report.failed.append((str(item.path), str(err)))
            continue
        if out in taken:
            report.failed.append((str(item.path), f"output {out} already planned for {taken[out]}"))
            continue
        taken[out] = item.path
        planned.append((item, out))
    existing = [out for _, out in planned if out.exists()]
    if existing and skip_existing:
        return [(item, out) for item, out in planned if not out.exists()]
    if existing and not force:
        raise FileExistsError(
            f"{len(existing)} output file(s) already exist (first: {existing[0]}); "
            "use --force to overwrite or --skip-existing to keep them"
        )
    return planned


def tokenize_files(
    model: Codec,
    planned: list[tuple[Utterance, Path]],
    report: JobReport,
    num_codebooks: int | None = None,
    batch_size: int = 8,
    workers: int = 2,
    exclusive: bool = False,
    quiet: bool = False,
) -> None:
    """Tokenize audio files in length-sorted batches, writing one tokens file per input atomically.

    `exclusive`: an output that appears meanwhile (another run) is not replaced; that file fails.
    """
    sized, long = [], []
    for item, out in planned:
        try:
            info = sf.info(str(item.path))
        except Exception as err:  # unreadable header: record and continue
            reason = f"unreadable or not audio ({one_line(err)})" if item.path.exists() else "no such file"
            record_failure(report.failed, item.path, reason)
            continue
        if info.frames > LONGFORM_THRESHOLD_SECONDS * info.samplerate:
            long.append((item, out, info.frames / info.samplerate))
        else:
            sized.append((info.frames, item, out))
    _tokenize_long_files(model, long, report, num_codebooks, exclusive, quiet)
    sized.sort(key=lambda entry: entry[0])
    batches = [sized[i : i + batch_size] for i in range(0, len(sized), batch_size)]
    with (
        tqdm(total=len(planned), unit="file", desc="tokenize", file=sys.stderr, disable=quiet) as bar,
        ThreadPoolExecutor(max_workers=max(1, workers)) as pool,
    ):
        bar.update(len(planned) - len(sized))
        for batch in _prefetch(pool, batches, lambda b: [_try_load(e[1].path) for e in b]):
            entries, loaded = batch
            good = []
            for (_, item, out), result in zip(entries, loaded):
                if isinstance(result, Exception):
                    record_failure(report.failed, item.path, one_line(result))
                else:
                    good.append((item, out, result))
            _tokenize_batch(model, good, report, num_codebooks, exclusive)
            bar.update(len(entries))
            bar.set_postfix(audio_h=f"{report.audio_seconds / 3600:.2f}")


def _tokenize_long_files(
    model: Codec, long: list, report: JobReport, num_codebooks: int | None, exclusive: bool, quiet: bool
) -> None:
    """Files past the long-form threshold: windowed (or streamed) so memory is bounded by the window."""
    for item, out, seconds in tqdm(
        long, unit="file", desc="tokenize long files", file=sys.stderr, disable=quiet or not long
    ):
        try:
            model.tokenize_long(item.path, num_codebooks=num_codebooks).save(out, exclusive=exclusive)
        except (OSError, ValueError) as err:
            record_failure(report.failed, item.path, one_line(err))
            continue
        report.written.append(out)
        report.audio_seconds += seconds


def _tokenize_batch(model: Codec, good: list, report: JobReport, num_codebooks: int | None, exclusive: bool) -> None:
    if not good:
        return
    try:
        waves = [mono_resampled(wav, rate, model.sample_rate) for _, _, (wav, rate) in good]
        tokens = model.tokenize(waves, sample_rate=model.sample_rate, num_codebooks=num_codebooks)
    except Exception:
        if len(good) == 1:
            item = good[0][0]
            record_failure(report.failed, item.path, one_line(sys.exc_info()[1]))
            return
        for entry in good:  # isolate the item that fails
            _tokenize_batch(model, [entry], report, num_codebooks, exclusive)
        return
    for (item, out, (wav, rate)), single in zip(good, tokens.unbatch()):
        try:
            single.save(out, exclusive=exclusive)
        except OSError as err:
            record_failure(report.failed, item.path, one_line(err))
            continue
        report.written.append(out)
        report.audio_seconds += wav.shape[-1] / rate


def detokenize_files(
    model: Codec,
    planned: list[tuple[Utterance, Path]],
    report: JobReport,
    batch_size: int = 8,
    exclusive: bool = False,
    quiet: bool = False,
) -> None:
    """Decode tokens files (one item each) to audio files (format from the output suffix), batch by batch."""
    with tqdm(total=len(planned), unit="file", desc="detokenize", file=sys.stderr, disable=quiet) as bar:
        for start in range(0, len(planned), batch_size):
            chunk = planned[start : start + batch_size]
            for item, out in chunk:
                try:
                    tokens = Tokens.load(item.path)
                    if tokens.batch_size != 1:
                        raise ValueError(
                            f"holds a batch of {tokens.batch_size} items; this command decodes files "
                            "of one item (save each of Tokens.unbatch() to its own file)"
                        )
                    model.check_tokens(tokens)
                    if int(tokens.audio_lengths[0]) > LONGFORM_THRESHOLD_SECONDS * model.sample_rate:
                        model.detokenize_long(tokens, out, exclusive=exclusive)
                    else:
                        save_audio(out, model.detokenize(tokens)[0], model.sample_rate, exclusive=exclusive)
                except (OSError, ValueError) as err:
                    record_failure(report.failed, item.path, one_line(err))
                    continue
                report.written.append(out)
                report.audio_seconds += int(tokens.audio_lengths[0]) / model.sample_rate
            bar.update(len(chunk))


def group_by_named_model(planned: list[tuple[Utterance, Path]], report: JobReport) -> list[tuple[Path, list]]:
    """Tokens files grouped by the registered model their id names (NAME@sha256-prefix); the rest fail, one by one."""
    sources: dict[str, Path | Exception] = {}
    groups: dict[Path, list] = {}
    for item, out in planned:
        try:
            model_id = Tokens.load(item.path).model_id
        except (OSError, ValueError) as err:
            record_failure(report.failed, item.path, one_line(err))
            continue
        name = model_id.split("@")[0]
        if not name:
            record_failure(report.failed, item.path, "the tokens name no model; pass --model")
            continue
        if name not in sources:
            try:
                sources[name] = resolve(name)
            except (FileNotFoundError, ValueError) as err:
                sources[name] = err
        source = sources[name]
        if isinstance(source, Exception):
            record_failure(
                report.failed, item.path, f"made by model {model_id!r}, which is not a registered name; pass --model"
            )
        else:
            groups.setdefault(source, []).append((item, out))
    return list(groups.items())


def write_errors(out_dir: Path, report: JobReport) -> Path:
    """Write errors.jsonl (one {"input", "error"} object a line; empty when all went well)."""
    lines = "".join(json.dumps({"input": path, "error": reason}) + "\n" for path, reason in report.failed)
    target = out_dir / ERRORS_FILE
    atomic_write_bytes(target, lines.encode())
    return target


def _try_load(path: Path) -> tuple[torch.Tensor, int] | Exception:
    try:
        return load_audio(path)
    except (OSError, ValueError) as err:
        return err


def _prefetch(pool: ThreadPoolExecutor, batches: list, load: Callable) -> Iterator[tuple[list, list]]:
    """Load the next batch in the background while the current one runs through the model."""
    if not batches:
        return
    future = pool.submit(load, batches[0])
    for index, batch in enumerate(batches):
        result = future.result()
        if index + 1 < len(batches):
            future = pool.submit(load, batches[index + 1])
        yield batch, result
