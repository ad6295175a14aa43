"""Build a training manifest (JSONL) from a LibriSpeech- or LibriTTS-style directory tree.

LibriSpeech: SPEAKER/CHAPTER/SPEAKER-CHAPTER-UTT.flac with SPEAKER-CHAPTER.trans.txt transcripts.
LibriTTS:    SPEAKER/CHAPTER/SPEAKER_CHAPTER_UTT.wav with .normalized.txt (or .original.txt) beside it.

    python recipes/data/librispeech_manifest.py /data/LibriSpeech/train-clean-100 data/librispeech/train.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import soundfile as sf
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from codec.errors import one_line
from codec.io.files import atomic_write_bytes

AUDIO = (".flac", ".wav")


def transcripts(root: Path) -> dict[str, str]:
    """Utterance id -> text from LibriSpeech `*.trans.txt` files and LibriTTS `*.normalized.txt` files."""
    texts: dict[str, str] = {}
    for trans in root.rglob("*.trans.txt"):
        for line in trans.read_text().splitlines():
            if " " in line:
                utt, text = line.split(" ", 1)
                texts[utt] = text.strip()
    for norm in root.rglob("*.normalized.txt"):
        texts[norm.name[: -len(".normalized.txt")]] = norm.read_text().strip()
    return texts


def build_manifest(root: Path, out: Path, min_seconds: float = 0.5) -> int:
    """Write one JSON row per audio file (path relative to the manifest, id, duration, text, speaker)."""
    texts = transcripts(root)
    rows = []
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO)
    for path in tqdm(files, unit="file", desc="scan"):
        try:
            info = sf.info(str(path))
        except Exception as err:
            print(f"skipping {path}: {one_line(err, path)}", file=sys.stderr)
            continue
        duration = info.frames / info.samplerate
        if duration < min_seconds:
            continue
        utt = path.stem
        speaker = utt.replace("_", "-").split("-")[0]
        try:
            rel = path.resolve().relative_to(out.parent.resolve()).as_posix()
        except ValueError:
            rel = str(path.resolve())
        rows.append(
            {"path": rel, "id": utt, "duration": round(duration, 3), "text": texts.get(utt), "speaker": speaker}
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, "".join(json.dumps(r) + "\n" for r in rows).encode())
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("root", type=Path, help="corpus directory (e.g. LibriSpeech/train-clean-100)")
    parser.add_argument("out", type=Path, help="manifest to write (.jsonl)")
    parser.add_argument("--min-seconds", type=float, default=0.5, help="drop shorter files (default 0.5)")
    args = parser.parse_args()
    count = build_manifest(args.root, args.out, args.min_seconds)
    print(f"{count} utterances -> {args.out}")


if __name__ == "__main__":
    main()
