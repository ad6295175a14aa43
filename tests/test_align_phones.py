"""recipes/data/align_phones.py: transcripts to dictionary words, pocketsphinx phones to manifest alignments."""

from __future__ import annotations

import importlib.util
import itertools
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from codec.eval.protocol import load_eval_items  # noqa: E402
from recipes.data import align_phones as ap  # noqa: E402
from recipes.data.tts_engines import PHONES  # noqa: E402

HAVE_POCKETSPHINX = importlib.util.find_spec("pocketsphinx") is not None
ALSA_FRONT_LEFT = Path("/usr/share/sounds/alsa/Front_Left.wav")


def test_transcripts_become_dictionary_words():
    assert ap.transcript_words("Please enter keywords separated by * and then press the pound key.") == [
        "please",
        "enter",
        "keywords",
        "separated",
        "by",
        "star",
        "and",
        "then",
        "press",
        "the",
        "pound",
        "key",
    ]
    assert ap.transcript_words("...to increase your volume. (simple tone sound plays)") == [
        "to",
        "increase",
        "your",
        "volume",
    ]
    assert ap.transcript_words("I'm sorry, that number's not valid.") == [
        "i'm",
        "sorry",
        "that",
        "number's",
        "not",
        "valid",
    ]
    assert ap.transcript_words("a well-known 'quote'") == ["a", "well", "known", "quote"]
    with pytest.raises(ap.AlignmentError, match="digits"):
        ap.transcript_words("press 5 now")


def test_pocketsphinx_phones_map_to_the_project_phone_set():
    assert ap.map_sphinx_phone("AH") == ["ah"]
    assert ap.map_sphinx_phone("ER1") == ["er"]
    assert ap.map_sphinx_phone("SIL") == ["sil"]
    assert ap.map_sphinx_phone("+NSN+") == ["sil"] and ap.map_sphinx_phone("+SPN+") == ["sil"]
    for phone in PHONES:
        assert ap.map_sphinx_phone(phone.upper()) == [phone]
    with pytest.raises(ap.AlignmentError, match="AX"):
        ap.map_sphinx_phone("AX")


def test_phone_segments_become_contiguous_rows_covering_the_clip():
    # what PhoneAligner.align returns for "he turned" at 100 frames/s: padding before the clip, a filler, a gap
    segments = [
        ("SIL", -10, 23),
        ("HH", 13, 10),
        ("IY", 23, 6),
        ("+NSN+", 29, 5),
        ("SIL", 34, 4),
        ("T", 38, 8),
        ("ER", 46, 13),
        ("N", 59, 5),
        ("D", 64, 4),
        ("SIL", 70, 25),
    ]
    rows = ap.alignment_rows(segments, frame_rate=100.0, duration=0.9)
    assert rows == [
        [0.0, 0.13, "sil"],
        [0.13, 0.23, "hh"],
        [0.23, 0.29, "iy"],
        [0.29, 0.38, "sil"],
        [0.38, 0.46, "t"],
        [0.46, 0.59, "er"],
        [0.59, 0.64, "n"],
        [0.64, 0.68, "d"],
        [0.68, 0.9, "sil"],
    ]


def test_alternate_pronunciations_and_lexicon_files(tmp_path):
    assert ap.base_word("and(2)") == "and" and ap.base_word("you've") == "you've"
    lexicon = tmp_path / "extra.dict"
    lexicon.write_text(";;; comment\nGregson G R EH G S AH N\nzyx z ih k s\n")
    assert ap.read_lexicon(lexicon) == {"gregson": "G R EH G S AH N", "zyx": "Z IH K S"}


class FakeAligner:
    """Stands in for pocketsphinx: one phone per word, evenly spread; `unknown` is not in its dictionary."""

    frame_rate = 100.0

    def align(self, audio: np.ndarray, words: list[str]) -> list[tuple[str, int, int]]:
        if "unknown" in words:
            raise ap.AlignmentError("not in the CMU dictionary: unknown")
        step = len(audio) // 160 // len(words)
        return [("AA", i * step, step) for i in range(len(words))]


def test_manifest_keeps_only_aligned_rows_with_paths_from_the_new_location(tmp_path, capsys):
    audio_dir = tmp_path / "set" / "audio"
    audio_dir.mkdir(parents=True)
    rows = []
    for name, source, text in [
        ("a", "alsa", "front left"),
        ("b", "klettres", None),
        ("c", "arctic", "an unknown"),
        ("d", "arctic", None),
        ("e", "asterisk", "please hold"),
    ]:
        sf.write(audio_dir / f"{name}.flac", np.zeros(16000, dtype=np.float32), 16000)
        rows.append({"path": f"audio/{name}.flac", "id": name, "text": text, "source": source})
    manifest = tmp_path / "set" / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "aligned" / "manifest_en.jsonl"

    aligned, failures = ap.align_manifest(manifest, out, ["alsa", "arctic", "asterisk"], FakeAligner(), False)

    assert [r["id"] for r in aligned] == ["a", "e"]
    assert failures == [
        f"skipped {audio_dir / 'c.flac'}: not in the CMU dictionary: unknown",
        f"skipped {audio_dir / 'd.flac'}: no transcript",
    ]
    assert [json.loads(line) for line in out.read_text().splitlines()] == aligned
    assert aligned[0]["path"] == "../set/audio/a.flac" and aligned[0]["source"] == "alsa"
    assert aligned[0]["alignment"] == [[0.0, 0.5, "aa"], [0.5, 1.0, "aa"]]
    items, errors = load_eval_items([str(out)])
    assert not errors and [i.path.resolve() for i in items] == [audio_dir / "a.flac", audio_dir / "e.flac"]
    assert items[1].alignment == ((0.0, 0.5, "aa"), (0.5, 1.0, "aa"))
    assert sorted(p.name for p in out.parent.iterdir()) == ["manifest_en.jsonl"]


@pytest.mark.skipif(not HAVE_POCKETSPHINX, reason="pocketsphinx is not installed (pip install pocketsphinx==5.1.1)")
def test_pocketsphinx_aligns_a_real_recording(tmp_path):
    assert ALSA_FRONT_LEFT.is_file(), "alsa-utils is not installed (it is in .ci/apt-packages.txt)"
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text(json.dumps({"path": str(ALSA_FRONT_LEFT), "text": "Front Left", "source": "alsa"}) + "\n")
    aligner = ap.PhoneAligner({"frontleft": "F R AH N T L EH F T", "front": "F R OW N T"})
    assert aligner.missing_words(["frontleft", "front", "qxzw"]) == ["qxzw"]
    assert aligner.decoder.lookup_word("front") == "F R AH N T"  # a lexicon never overrides the dictionary
    (row,), failures = ap.align_manifest(manifest, tmp_path / "out.jsonl", ["alsa"], aligner, False)
    assert failures == []
    alignment = row["alignment"]
    duration = sf.info(str(ALSA_FRONT_LEFT)).duration
    assert alignment[0][0] == 0.0 and abs(alignment[-1][1] - duration) < 0.01
    assert all(a[1] == b[0] for a, b in itertools.pairwise(alignment))
    phones = [p for _, _, p in alignment]
    assert [p for p in phones if p != "sil"] == ["f", "r", "ah", "n", "t", "l", "eh", "f", "t"]
    # the speaker pauses between the two words
    pause = alignment[phones.index("l") - 1]
    assert pause[2] == "sil" and pause[1] - pause[0] > 0.15
