"""Add phone alignments to the English rows of an evaluation manifest by forced alignment with pocketsphinx.

`codec eval` scores phone purity and PNMI per codebook only for manifest rows that carry
`alignment: [[start_s, end_s, phone], ...]`. The real-speech set of `real_speech_eval.py` has transcripts but no
timings; this recipe aligns each English transcript to its audio with pocketsphinx 5 (its bundled US-English
acoustic model and CMU dictionary; `pip install pocketsphinx==5.1.1`) in two passes: word alignment with optional
silences between words, then phone alignment. Phones are mapped to the project's set (39 ARPAbet phones,
lowercase, no stress, plus `sil`; silence and noise fillers -> `sil`) and the segments are made contiguous over the
clip, the same way the synthetic corpus's alignments are.

Rows are selected by `source` (default: the English sources with transcripts that match the audio). The output
manifest holds ONLY the rows that aligned, each with its `alignment` added and its `path` rewritten relative to the
output manifest; a row that cannot be aligned (no transcript, words missing from the CMU dictionary, unreadable
audio, the decoder finding no path through the words) is left out with one line on stderr naming the file and the
reason. There is no grapheme-to-phoneme fallback (pocketsphinx 5's Python package ships none): add missing words
with `--lexicon FILE` (lines `word PH ON ES`, CMU format) to keep such rows.

A forced aligner always returns some alignment for a transcript it can spell: it does not check that the words were
said. Use it on clips whose transcripts are known to match (as the default sources' are).

    python recipes/data/align_phones.py real_eval/manifest.jsonl real_eval_aligned/manifest_en.jsonl
    codec eval --model speechcodec-16k-50hz real_eval_aligned/manifest_en.jsonl --baselines none
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from codec.data.manifest import read_manifest_rows
from codec.io.files import atomic_write_bytes
from recipes.data.tts_engines import PHONES, unify_alignment

SAMPLE_RATE = 16000  # the pocketsphinx en-us acoustic model's rate
PAD_SECONDS = 0.1
ENGLISH_SOURCES = ("alsa", "asterisk", "pocketsphinx", "arctic", "praat")
_SYMBOL_WORDS = {"*": " star ", "#": " pound ", "&": " and ", "%": " percent "}
_PHONE_SET = frozenset(PHONES)


class AlignmentError(RuntimeError):
    """A row that cannot be aligned; the message is the reason."""


def transcript_words(text: str) -> list[str]:
    """A transcript as lower-case dictionary words: stage directions in brackets dropped, symbols spelled out."""
    text = re.sub(r"\([^)]*\)?|\[[^\]]*\]?", " ", text.lower())
    for symbol, word in _SYMBOL_WORDS.items():
        text = text.replace(symbol, word)
    if re.search(r"\d", text):
        raise AlignmentError("transcript has digits (spell them out)")
    words = re.sub(r"[^a-z' ]+", " ", text.replace("-", " ")).split()
    return [w.strip("'") for w in words if w.strip("'")]


def map_sphinx_phone(label: str) -> list[str]:
    """One pocketsphinx phone label -> project phones: stress stripped, SIL and +FILLER+ noises -> `sil`."""
    if label.upper() == "SIL" or (label.startswith("+") and label.endswith("+")):
        return ["sil"]
    phone = label.lower().rstrip("012")
    if phone not in _PHONE_SET:
        raise AlignmentError(f"pocketsphinx phone {label!r} is not in the phone set")
    return [phone]


def alignment_rows(segments: Iterable[tuple[str, int, int]], frame_rate: float, duration: float) -> list[list]:
    """Pocketsphinx phone segments (label, start frame, frame count) -> contiguous [[start_s, end_s, phone]] rows."""
    timed = [(start / frame_rate, (start + count) / frame_rate, label) for label, start, count in segments]
    return unify_alignment(timed, map_sphinx_phone, duration)


def base_word(entry: str) -> str:
    """A dictionary entry without its alternate-pronunciation suffix: `and(2)` -> `and`."""
    return re.sub(r"\(\d+\)$", "", entry)


def read_lexicon(path: Path) -> dict[str, str]:
    """CMU-format pronunciations, one `word PH ON ES` a line (`;;;` comments)."""
    entries = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if parts and not line.startswith(";;;"):
            entries[parts[0].lower()] = " ".join(p.upper() for p in parts[1:])
    return entries


class PhoneAligner:
    """Forced alignment of known words to 16 kHz audio with pocketsphinx's en-us model."""

    def __init__(self, lexicon: dict[str, str] | None = None) -> None:
        try:
            from pocketsphinx import Decoder
        except ImportError as err:
            raise SystemExit("align_phones needs pocketsphinx: pip install pocketsphinx==5.1.1") from err
        self.decoder = Decoder(lm=None, loglevel="FATAL")  # failures are reported per row instead
        # add_word refuses words the dictionary has: those keep its pronunciations
        entries = [(w, phones) for w, phones in (lexicon or {}).items() if self.decoder.lookup_word(w) is None]
        for number, (word, phones) in enumerate(entries, 1):
            self.decoder.add_word(word, phones, number == len(entries))  # rebuild the search once, at the end
        self.frame_rate = float(self.decoder.config["frate"])

    def missing_words(self, words: Sequence[str]) -> list[str]:
        """The words the pronunciation dictionary does not know, each once, in order."""
        return list(dict.fromkeys(w for w in words if self.decoder.lookup_word(w) is None))

    def align(self, audio: np.ndarray, words: Sequence[str]) -> list[tuple[str, int, int]]:
        """Phone segments (label, start frame, frame count) of `words` spoken in int16 `audio` at 16 kHz.

        Frames count from the start of `audio`; the first segment may start before it (negative: padding).
        """
        missing = self.missing_words(words)
        if missing:
            raise AlignmentError(f"not in the CMU dictionary: {' '.join(missing)}")
        # pocketsphinx 5.1.1's phone pass fails ("Alignment failed in frame N") on some clips whose speech starts at
        # frame 0 (the word pass then leaves a zero-length <s>); 0.1 s of silence at both ends avoids that.
        pad = np.zeros(round(PAD_SECONDS * SAMPLE_RATE), dtype=np.int16)
        data = np.concatenate([pad, np.asarray(audio, dtype=np.int16), pad]).tobytes()
        try:
            self.decoder.set_align_text(" ".join(words))
            self._decode(data)
            said = [base_word(s.word) for s in self.decoder.seg() if not s.word.startswith(("<", "["))]
            if said != list(words):
                raise AlignmentError(f"word pass found {len(said)} of {len(words)} words")
            self.decoder.set_alignment()
            self._decode(data)
            alignment = self.decoder.get_alignment()
        except RuntimeError as err:
            raise AlignmentError(f"pocketsphinx: {err}") from err
        if alignment is None:
            raise AlignmentError("pocketsphinx returned no phone alignment")
        shift = round(PAD_SECONDS * self.frame_rate)
        return [(p.name, int(p.start) - shift, int(p.duration)) for p in alignment.phones()]

    def _decode(self, data: bytes) -> None:
        self.decoder.start_utt()
        self.decoder.process_raw(data, full_utt=True)
        self.decoder.end_utt()


def read_audio_int16(path: Path) -> np.ndarray:
    """A file as mono int16 samples at 16 kHz."""
    audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    mono = audio.mean(axis=1)
    if rate != SAMPLE_RATE:
        mono = AF.resample(torch.from_numpy(mono), rate, SAMPLE_RATE).numpy()
    return (np.clip(mono, -1.0, 1.0) * 32767).astype(np.int16)


def align_row(row: dict, audio_path: Path, aligner: PhoneAligner) -> list[list]:
    """The `alignment` of one manifest row (raises AlignmentError with the reason)."""
    if not row.get("text"):
        raise AlignmentError("no transcript")
    words = transcript_words(str(row["text"]))
    if not words:
        raise AlignmentError("empty transcript")
    try:
        audio = read_audio_int16(audio_path)
    except (OSError, RuntimeError) as err:
        raise AlignmentError(f"unreadable audio ({err})") from err
    return alignment_rows(aligner.align(audio, words), aligner.frame_rate, len(audio) / SAMPLE_RATE)


def align_manifest(
    manifest: Path, out: Path, sources: Sequence[str], aligner: PhoneAligner, progress: bool = True
) -> tuple[list[dict], list[str]]:
    """Align the rows of `manifest` from `sources`; write those that aligned to `out`; return them and failure lines."""
    rows = [r for r in read_manifest_rows(manifest) if r.get("source") in sources]
    aligned, failures = [], []
    for row in tqdm(rows, desc="aligning", unit="clip", disable=not progress):
        audio_path = Path(row["path"]) if Path(row["path"]).is_absolute() else manifest.parent / row["path"]
        try:
            alignment = align_row(row, audio_path, aligner)
        except AlignmentError as err:
            failures.append(f"skipped {audio_path}: {err}")
            continue
        path = os.path.relpath(audio_path.resolve(), out.parent.resolve())
        aligned.append({**row, "path": Path(path).as_posix(), "alignment": alignment})
    atomic_write_bytes(out, "".join(json.dumps(r) + "\n" for r in aligned).encode())
    return aligned, failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("manifest", type=Path, help="input JSONL manifest with `path`, `text` and `source` per row")
    parser.add_argument("out", type=Path, help="output JSONL manifest: the aligned rows only, `alignment` added")
    parser.add_argument(
        "--sources",
        default=",".join(ENGLISH_SOURCES),
        help=f"comma-separated `source` values to align (default {','.join(ENGLISH_SOURCES)})",
    )
    parser.add_argument(
        "--lexicon", type=Path, help="pronunciations of words the CMU dictionary lacks (`word PH ON ES` per line)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args()
    sources = [s.strip() for s in args.sources.split(",") if s.strip()]
    aligner = PhoneAligner(read_lexicon(args.lexicon) if args.lexicon else None)
    aligned, failures = align_manifest(args.manifest, args.out, sources, aligner, progress=not args.no_progress)
    for line in failures:
        print(line, file=sys.stderr)
    seconds = sum(r["alignment"][-1][1] for r in aligned)
    print(f"{len(aligned)} clips aligned ({seconds:.1f} s), {len(failures)} skipped -> {args.out}")


if __name__ == "__main__":
    main()
