#!/usr/bin/env python
"""Generate an offline multi-speaker English speech corpus with phone alignments.

Uses the Debian TTS engines espeak-ng, festival and flite (see docs/data.md), so training
recipes and tests can run without downloading a dataset. Every "speaker" is
engine + voice (+ variant) + timbre (a fixed spectral warp); rate, pitch, intonation range and
level are randomised per utterance. Output layout::

    OUT/wav/<speaker>/<id>.flac      16 kHz mono FLAC (PCM_16)
    OUT/wav/<speaker>/<id>.json      per-utterance record (used for resuming)
    OUT/manifest.jsonl               one JSON record per utterance (train speakers)
    OUT/manifest_heldout.jsonl       records of held-out speakers (--heldout-speakers N)
    OUT/phones.json                  the unified phone inventory (list, "sil" first)

Example::

    python recipes/data/synthetic_speech.py data/synth --hours 1 --seed 0 --jobs 2
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import functools
import glob
import json
import logging
import math
import multiprocessing as mp
import os
import random
import re
import resource
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

try:
    from .tts_engines import ENGINES, PHONES, EngineError, unify_alignment, warp_factor
except ImportError:  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from tts_engines import ENGINES, PHONES, EngineError, unify_alignment, warp_factor

log = logging.getLogger("synthetic_speech")
SAMPLE_RATE = 16000
DEFAULT_ENGINES = ("espeak", "festival", "flite")

BUILTIN_SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "She sells sea shells by the sea shore.",
    "A small boat drifted slowly across the quiet lake.",
    "Please call me back after lunch.",
    "The weather was cold, but the sun was shining.",
    "How many apples are left in the basket?",
    "Turn left at the next corner and walk two blocks.",
    "We should leave before the rain starts.",
    "My brother plays the violin every evening.",
    "Bright lights flickered over the old town.",
    "Could you open the window, please?",
    "The train to the city leaves at seven.",
    "They built a wooden bridge over the river.",
    "Nobody knew where the key had gone.",
    "Fresh bread smells wonderful in the morning.",
    "The children laughed at the funny clown.",
    "He wrote a long letter to his grandmother.",
    "Keep your eyes on the road ahead.",
    "A gentle breeze moved through the tall grass.",
    "Thank you for your help yesterday.",
    "The museum opens at nine on Sundays.",
    "Our team won the game in the last minute.",
    "Heavy snow closed the mountain pass for a week.",
    "Is this the right way to the station?",
    "The cat slept all afternoon on the warm chair.",
    "Water boils at one hundred degrees.",
    "I think we need a bigger map.",
    "The garden was full of red and yellow flowers.",
    "Every morning she runs along the beach.",
    "Please write your name at the top of the page.",
]
_OK_CHARS = re.compile(r"^[A-Za-z][A-Za-z ,.;:'!?-]*$")
_BLOCK = re.compile(
    r"\b(sex\w*|rap(e|ed|es|ist)|pedophil\w*|porn\w*|nigg\w*|fuck\w*|shit\w*|"
    r"cunt\w*|whore\w*|slut\w*|bitch\w*|fag\w*|nazi\w*|suicid\w*)\b",
    re.I,
)


def clean_sentence(s: str) -> str | None:
    """Normalise to a sentence-like line of 3-25 words of ASCII letters and basic punctuation."""
    s = " ".join(s.replace("`", "'").split()).strip(" -'")
    if not s or "--" in s or "''" in s or not _OK_CHARS.match(s) or _BLOCK.search(s):
        return None
    words = s.split()
    if not 3 <= len(words) <= 25:
        return None
    if any(len(w.strip(",.;:!?'")) > 1 and w.strip(",.;:!?'").isupper() for w in words):
        return None  # acronyms/shouting are read differently by each engine
    s = s[0].upper() + s[1:]
    return s if s[-1] in ".!?" else s.rstrip(",;:-") + "."


@functools.lru_cache(maxsize=4)
def load_texts(wordnet_dir="/usr/share/wordnet", fortune_dir="/usr/share/games/fortunes"):
    """Sorted, de-duplicated sentences from WordNet examples + fortunes (or the built-ins)."""
    out = set()
    for p in sorted(glob.glob(os.path.join(wordnet_dir, "data.*"))):
        with open(p, encoding="latin-1") as f:
            for line in f:
                if "|" in line:
                    for ex in re.findall(r'"([^"]+)"', line.split("|", 1)[1]):
                        out.add(clean_sentence(ex))
    for p in sorted(glob.glob(os.path.join(fortune_dir, "*"))):
        if not os.path.isfile(p) or p.endswith((".dat", ".u8")):
            continue
        with open(p, encoding="latin-1") as f:
            entries = f.read().split("\n%\n")
        for e in entries:
            lines = [ln for ln in e.splitlines() if not ln.strip().startswith("--")]
            for s in re.split(r"(?<=[.!?])\s+", " ".join(lines)):
                out.add(clean_sentence(s))
    out.discard(None)
    if not out:
        log.warning("no wordnet-base/fortunes text found; using %d built-in sentences", len(BUILTIN_SENTENCES))
        out = set(BUILTIN_SENTENCES)
    return tuple(sorted(out))


def available_engines(names) -> dict[str, list[str]]:
    """engine -> voices, skipping (with a warning) engines that are not installed."""
    found = {}
    for name in names:
        if name not in ENGINES:
            raise ValueError(f"unknown engine {name!r}; choose from {sorted(ENGINES)}")
        reason = ENGINES[name].available()
        voices = [] if reason else ENGINES[name]().voices()
        if reason or not voices:
            log.warning("skipping engine %s: %s", name, reason or "no voices")
            continue
        found[name] = voices
    return found


def speaker_name(engine: str, voice: str, timbre: int) -> str:
    return f"{engine}-{voice.replace('+', '_')}" + (f"-t{timbre}" if timbre else "")


def plan_speakers(engines: dict, timbres: int, heldout: int, seed: int):
    """-> (train pools per engine, held-out pools per engine); each item (speaker, voice, timbre)."""
    pools = {e: [(speaker_name(e, v, t), v, t) for v in vs for t in range(timbres)] for e, vs in engines.items()}
    rng, held = random.Random(f"{seed}:heldout"), {e: [] for e in pools}
    order = sorted(pools)
    for k in range(heldout):
        e = order[k % len(order)]
        if len(pools[e]) <= 1:
            raise ValueError(f"cannot hold out {heldout} speakers: engine {e} has too few")
        held[e].append(pools[e].pop(rng.randrange(len(pools[e]))))
    return pools, {e: v for e, v in held.items() if v}


def plan_utterance(i: int, split: str, pools: dict, texts, seed: int) -> dict:
    """Deterministic description of utterance i (prefix-stable: adding more keeps earlier ones)."""
    rng = random.Random(f"{seed}:{split}:{i}")
    engines = sorted(pools)
    engine = engines[i % len(engines)]
    speaker, voice, timbre = pools[engine][rng.randrange(len(pools[engine]))]
    text = texts[i % len(texts) if split == "train" else -1 - i % len(texts)]  # pre-shuffled
    params = {
        "rate": round(math.exp(rng.uniform(math.log(0.8), math.log(1.25))), 4),
        "pitch": round(rng.uniform(-3.0, 3.0), 3),
        "expr": round(rng.uniform(0.6, 1.4), 3),
        "level_db": round(rng.uniform(-32.0, -18.0), 2),
        "warp": warp_factor(timbre),
    }
    uid = f"{speaker}-{'h' if split != 'train' else ''}{i:06d}"
    return {
        "id": uid,
        "path": f"wav/{speaker}/{uid}.flac",
        "text": text,
        "speaker": speaker,
        "engine": engine,
        "voice": voice,
        "params": params,
    }


def _atomic_write_text(path: Path, data: str):
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(data)
    os.replace(tmp, path)


def _cpu_seconds() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)  # engines run in child processes
    return time.process_time() + ru.ru_utime + ru.ru_stime


def render(task: dict, out_dir: str) -> tuple[dict, tuple]:
    """Synthesise one planned utterance (or reuse it) -> (record, (wall s, cpu s, audio s))."""
    out = Path(out_dir)
    wav_p = out / task["path"]
    meta_p = wav_p.with_suffix(".json")
    if wav_p.exists() and meta_p.exists():
        try:
            rec = json.loads(meta_p.read_text())
            if all(rec.get(k) == task[k] for k in ("id", "text", "speaker", "params")):
                return rec, (0.0, 0.0, 0.0)
        except (OSError, ValueError):
            pass
    import torch
    import torchaudio.functional as AF

    torch.set_num_threads(1)
    p, t0, c0 = task["params"], time.perf_counter(), _cpu_seconds()
    audio, sr, segs, mapper = ENGINES[task["engine"]]().synth(
        task["text"], task["voice"], rate=p["rate"], pitch=p["pitch"], expr=p["expr"]
    )
    if audio.size < sr // 10 or not np.any(np.abs(audio) > 1e-4):
        raise EngineError(f"{task['id']}: engine produced no audio")
    src_sr = int(round(sr * p["warp"] / 50.0) * 50)  # relabel the rate -> warps pitch+formants
    scale = sr / src_sr
    x = AF.resample(torch.from_numpy(np.ascontiguousarray(audio, np.float32)), src_sr, SAMPLE_RATE).numpy()
    frames = x[: len(x) // 160 * 160].reshape(-1, 160)
    energy = (frames**2).mean(1) if len(frames) else np.array([np.mean(x**2)])
    active = energy[energy > 1e-3 * energy.max()]
    gain = 10 ** (p["level_db"] / 20) / math.sqrt(float(active.mean()) + 1e-12)
    x = x * min(gain, 0.99 / (float(np.abs(x).max()) + 1e-9))
    x = np.round(np.clip(x, -1, 1) * 32767).astype(np.int16)
    duration = len(x) / SAMPLE_RATE
    align = unify_alignment([(s * scale, e * scale, ph) for s, e, ph in segs], mapper, duration)
    cost = (time.perf_counter() - t0, _cpu_seconds() - c0, duration)
    wav_p.parent.mkdir(parents=True, exist_ok=True)
    tmp = wav_p.with_name(f".{wav_p.name}.{os.getpid()}.tmp")
    sf.write(tmp, x, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
    os.replace(tmp, wav_p)
    rec = {
        "path": task["path"],
        "id": task["id"],
        "text": task["text"],
        "speaker": task["speaker"],
        "duration": round(duration, 4),
        "sample_rate": SAMPLE_RATE,
        "alignment": align,
        "engine": task["engine"],
        "voice": task["voice"],
        "params": task["params"],
    }
    _atomic_write_text(meta_p, json.dumps(rec))
    return rec, cost


def _render_safe(task, out_dir):
    try:
        return render(task, out_dir)
    except Exception as exc:  # one bad utterance must not kill a long run
        log.warning("utterance %s failed: %s", task["id"], exc)
        return None, (0.0, 0.0, 0.0)


def _run_tasks(tasks, out_dir, jobs, stats, progress, desc):
    results = []
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(tasks), desc=desc, unit="utt")

    def collect(task, res):
        rec, cost = res
        if rec is not None:
            results.append(rec)
            s = stats.setdefault(task["engine"], [0.0, 0.0, 0.0, 0])
            for k in range(3):
                s[k] += cost[k]
            s[3] += cost[2] > 0
        if bar is not None:
            bar.update(1)

    if jobs <= 1:
        for t in tasks:
            collect(t, _render_safe(t, out_dir))
    else:
        with cf.ProcessPoolExecutor(jobs, mp_context=mp.get_context("spawn")) as ex:
            futs = {ex.submit(_render_safe, t, out_dir): t for t in tasks}
            for f in cf.as_completed(futs):
                collect(futs[f], f.result())
    if bar is not None:
        bar.close()
    order = {t["id"]: k for k, t in enumerate(tasks)}
    return sorted(results, key=lambda r: order[r["id"]])


def generate_corpus(
    out_dir,
    num_utterances: int | None = None,
    hours: float | None = None,
    seed: int = 0,
    engines=DEFAULT_ENGINES,
    jobs: int = 1,
    heldout_speakers: int = 0,
    heldout_utterances: int | None = None,
    timbres: int = 3,
    progress: bool = False,
    stats: dict | None = None,
) -> Path:
    """Generate (or resume) a corpus; returns the path of OUT/manifest.jsonl.

    Exactly one of ``num_utterances`` / ``hours`` must be given. ``stats`` (optional dict) is
    filled with ``engine -> [wall_s, cpu_s, audio_s, n_synthesised]`` for this run (utterances
    reused from an earlier run are not counted)."""
    if (num_utterances is None) == (hours is None):
        raise ValueError("give exactly one of num_utterances or hours")
    if isinstance(engines, str):
        engines = [e.strip() for e in engines.split(",") if e.strip()]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    found = available_engines(engines)
    if not found:
        raise RuntimeError(f"none of the engines {list(engines)} is installed; see docs/data.md")
    texts = list(load_texts())
    random.Random(f"{seed}:texts").shuffle(texts)
    pools, held = plan_speakers(found, timbres, heldout_speakers, seed)
    stats = {} if stats is None else stats
    plan = functools.partial(plan_utterance, pools=pools, texts=texts, seed=seed)

    if num_utterances is not None:
        records = _run_tasks([plan(i, "train") for i in range(num_utterances)], out, jobs, stats, progress, "train")
    else:  # grow in chunks until the requested amount of audio exists (deterministic)
        records, target, i = [], hours * 3600.0, 0
        while sum(r["duration"] for r in records) < target:
            avg = sum(r["duration"] for r in records) / len(records) if records else 4.0
            need = sum(r["duration"] for r in records)
            n = max(1, min(5000, math.ceil((target - need) / avg)))
            records += _run_tasks(
                [plan(k, "train") for k in range(i, i + n)],
                out,
                jobs,
                stats,
                progress,
                f"train {need / 3600:.2f}/{hours}h",
            )
            i += n
    manifest = out / "manifest.jsonl"
    _atomic_write_text(manifest, "".join(json.dumps(r) + "\n" for r in records))
    if held:
        n_held = heldout_utterances
        if n_held is None:
            n_held = max(4 * heldout_speakers, math.ceil(0.05 * len(records)))
        hplan = functools.partial(plan_utterance, pools=held, texts=texts, seed=seed)
        hrec = _run_tasks([hplan(i, "heldout") for i in range(n_held)], out, jobs, stats, progress, "heldout")
        _atomic_write_text(out / "manifest_heldout.jsonl", "".join(json.dumps(r) + "\n" for r in hrec))
    _atomic_write_text(out / "phones.json", json.dumps(PHONES) + "\n")
    return manifest


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out_dir", help="output directory (created; re-running resumes)")
    size = ap.add_mutually_exclusive_group(required=True)
    size.add_argument("--hours", type=float, help="generate until this many hours of train audio")
    size.add_argument("--num-utterances", type=int, help="number of train utterances")
    ap.add_argument("--seed", type=int, default=0, help="seed: same seed -> same corpus")
    ap.add_argument(
        "--engines",
        default=",".join(DEFAULT_ENGINES),
        help="comma-separated subset of espeak,festival,flite (missing ones are skipped with a warning)",
    )
    ap.add_argument("--jobs", type=int, default=max(1, min(4, os.cpu_count() or 1)), help="worker processes")
    ap.add_argument(
        "--timbres", type=int, default=3, help="spectral-warp variants per voice (each one is a separate speaker)"
    )
    ap.add_argument(
        "--heldout-speakers",
        type=int,
        default=0,
        help="hold out N speakers (round-robin over engines) into "
        "manifest_heldout.jsonl; they never appear in manifest.jsonl",
    )
    ap.add_argument(
        "--heldout-utterances",
        type=int,
        default=None,
        help="utterances for the held-out manifest (default max(4N, 5%% of train))",
    )
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    stats: dict = {}
    t0 = time.time()
    manifest = generate_corpus(
        args.out_dir,
        num_utterances=args.num_utterances,
        hours=args.hours,
        seed=args.seed,
        engines=args.engines,
        jobs=args.jobs,
        heldout_speakers=args.heldout_speakers,
        heldout_utterances=args.heldout_utterances,
        timbres=args.timbres,
        progress=not args.quiet,
        stats=stats,
    )
    for eng, (wall, cpu, dur, n) in sorted(stats.items()):
        if n:
            log.info(
                "%s: %d new utterances, %.1f s audio, RTF per worker: wall %.4f, cpu %.4f",
                eng,
                n,
                dur,
                wall / max(dur, 1e-9),
                cpu / max(dur, 1e-9),
            )
    log.info("wrote %s in %.1f s", manifest, time.time() - t0)


if __name__ == "__main__":
    main()
