"""Tests for recipes/data/synthetic_speech.py (offline TTS corpus generator).

Engine tests need the Debian packages listed in docs/data.md; each engine's tests are
skipped only when that engine's binary/library is missing.
"""

import json
import os
import shutil
import subprocess
import sys
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from recipes.data import synthetic_speech as ss  # noqa: E402
from recipes.data import tts_engines as te  # noqa: E402

ENGINES = ["espeak", "festival", "flite"]
AVAILABLE = [e for e in ENGINES if te.ENGINES[e].available() is None]
PER_ENGINE = 2


def _read(manifest):
    return [json.loads(line) for line in Path(manifest).read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    if not AVAILABLE:
        pytest.skip("no TTS engine installed (apt-get install espeak-ng festival flite ...)")
    out = tmp_path_factory.mktemp("synth")
    manifest = ss.generate_corpus(out, num_utterances=PER_ENGINE * len(AVAILABLE), seed=3, engines=AVAILABLE)
    return out, manifest, _read(manifest)


@pytest.mark.slow
def test_manifest_layout(corpus):
    out, manifest, recs = corpus
    assert manifest == out / "manifest.jsonl"
    assert len(recs) == PER_ENGINE * len(AVAILABLE)
    assert json.loads((out / "phones.json").read_text()) == te.PHONES
    assert len({r["id"] for r in recs}) == len(recs)
    for r in recs:
        assert {"path", "id", "text", "speaker", "duration", "sample_rate", "alignment"} <= set(r)
        assert not os.path.isabs(r["path"]) and r["path"].startswith(f"wav/{r['speaker']}/")
        assert r["sample_rate"] == 16000 and r["text"]
    assert not list(out.rglob("*.tmp"))


@pytest.mark.slow
@pytest.mark.parametrize("engine", ENGINES)
def test_engine_audio_and_alignment(corpus, engine):
    if engine not in AVAILABLE:
        pytest.skip(f"{engine} not installed: {te.ENGINES[engine].available()}")
    out, _, recs = corpus
    recs = [r for r in recs if r["engine"] == engine]
    assert len(recs) == PER_ENGINE
    inventory = set(json.loads((out / "phones.json").read_text()))
    for r in recs:
        audio, sr = sf.read(out / r["path"], dtype="float32")
        assert sr == 16000 and audio.ndim == 1
        assert abs(len(audio) / sr - r["duration"]) < 1e-3
        assert np.sqrt(np.mean(audio**2)) > 10 ** (-50 / 20), "silent audio"
        ali = r["alignment"]
        assert ali and all(p in inventory for _, _, p in ali)
        assert sum(p != "sil" for _, _, p in ali) >= 3
        prev = 0.0
        for start, end, _ in ali:
            assert start >= prev - 1e-6 and end > start
            prev = end
        assert ali[0][0] >= 0.0 and abs(ali[-1][1] - r["duration"]) <= 0.05
        # speech (non-silence) should be louder than the labelled silences
        seg = lambda s, e, audio=audio, sr=sr: audio[int(s * sr) : int(e * sr)]  # noqa: E731
        speech = np.concatenate([seg(s, e) for s, e, p in ali if p != "sil"])
        sil = np.concatenate([seg(s, e) for s, e, p in ali if p == "sil"] + [speech[:0]])
        if len(sil) > 0.05 * sr:
            assert np.mean(speech**2) > 10 * np.mean(sil**2)


@pytest.mark.slow
def test_deterministic_and_resume(corpus, tmp_path):
    out, manifest, recs = corpus
    again = ss.generate_corpus(tmp_path, num_utterances=len(recs), seed=3, engines=AVAILABLE)
    assert again.read_text() == manifest.read_text()
    mtimes = {r["id"]: (out / r["path"]).stat().st_mtime_ns for r in recs}
    stats = {}
    ss.generate_corpus(out, num_utterances=len(recs), seed=3, engines=AVAILABLE, stats=stats)
    assert sum(s[3] for s in stats.values()) == 0, "resume re-synthesised existing utterances"
    assert mtimes == {r["id"]: (out / r["path"]).stat().st_mtime_ns for r in recs}


@pytest.mark.slow
def test_heldout_speakers(tmp_path):
    if "espeak" not in AVAILABLE:
        pytest.skip("espeak-ng not installed")
    ss.generate_corpus(
        tmp_path, num_utterances=4, seed=1, engines=["espeak"], heldout_speakers=2, heldout_utterances=3, timbres=1
    )
    train, held = _read(tmp_path / "manifest.jsonl"), _read(tmp_path / "manifest_heldout.jsonl")
    assert len(train) == 4 and len(held) == 3
    assert not {r["speaker"] for r in train} & {r["speaker"] for r in held}
    assert not {r["id"] for r in train} & {r["id"] for r in held}


def test_missing_engine_is_skipped(tmp_path, monkeypatch):
    monkeypatch.setattr(te.Flite, "available", staticmethod(lambda: "not installed (test)"))
    assert "flite" not in ss.available_engines(["flite"])
    with pytest.raises(RuntimeError):
        ss.generate_corpus(tmp_path, num_utterances=1, engines=["flite"])


def test_phone_mapping():
    assert te.map_ipa("aɪ") == ["ay"] and te.map_ipa("tʃ") == ["ch"]
    assert te.map_ipa("ˈɜː") == ["er"] and te.map_ipa("") == ["sil"]
    assert te.map_ipa("aɪə") == ["ay", "er"] and te.map_ipa("t̪") == ["t"]
    assert te.map_arpa("pau") == ["sil"] and te.map_arpa("AX") == ["ah"]
    assert te.map_arpa("ow1") == ["ow"] and te.map_arpa("zz") is None
    for phones in list(te._IPA.values()) + list(te._ARPA_EXTRA.values()):
        assert set(phones) <= set(te.PHONES)


def test_unify_alignment():
    segs = [(0.1, 0.2, "hh"), (0.2, 0.2, "ax"), (0.2, 0.5, "aɪə"), (0.5, 0.6, ""), (0.6, 0.7, "")]
    ali = te.unify_alignment(segs, lambda r: te.map_arpa(r) or te.map_ipa(r), 1.0)
    assert [p for _, _, p in ali] == ["sil", "hh", "ay", "er", "sil"]
    assert ali[0][0] == 0.0 and ali[-1][1] == 1.0
    assert all(a[1] == b[0] for a, b in pairwise(ali))


def test_text_cleaning_and_fallback(tmp_path):
    assert ss.clean_sentence("  hello   there my friend ") == "Hello there my friend."
    assert ss.clean_sentence("too short") is None
    assert ss.clean_sentence("Numbers like 42 are out.") is None
    assert ss.clean_sentence("The NASA launch was late.") is None
    assert ss.load_texts(str(tmp_path / "none"), str(tmp_path / "none")) == tuple(sorted(ss.BUILTIN_SENTENCES))


@pytest.mark.slow
def test_cli_help():
    r = subprocess.run(
        [sys.executable, str(ROOT / "recipes/data/synthetic_speech.py"), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0 and "--num-utterances" in r.stdout and "--heldout-speakers" in r.stdout


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_cli_main_small_run(tmp_path):
    ss.main([str(tmp_path), "--num-utterances", "2", "--engines", "espeak", "--jobs", "1", "--quiet", "--timbres", "1"])
    recs = _read(tmp_path / "manifest.jsonl")
    assert len(recs) == 2 and all(r["engine"] == "espeak" for r in recs)
