"""recipes/data/real_speech_eval.py on the source that is on disk (ALSA's spoken channel names)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from recipes.data import real_speech_eval as rse  # noqa: E402


def test_alsa_clips_become_16k_flac_with_texts(tmp_path):
    assert rse.ALSA_DIR.is_dir(), "alsa-utils is not installed (it is in .ci/apt-packages.txt)"
    rows = rse.build(tmp_path, ["alsa"], limit=3, seed=0)
    assert len(rows) == 3
    assert rows == [json.loads(line) for line in (tmp_path / "manifest.jsonl").read_text().splitlines()]
    for row in rows:
        info = sf.info(tmp_path / row["path"])
        assert info.samplerate == 16000 and info.channels == 1 and info.format == "FLAC"
        assert abs(info.frames / 16000 - row["duration"]) < 1e-3 and row["duration"] > 0.5
        assert row["text"] == row["id"].removeprefix("alsa_").replace("_", " ") and row["source"] == "alsa"
    assert not list(tmp_path.rglob("*.tmp.flac"))


def test_a_broken_source_is_skipped_and_the_rest_written(tmp_path, monkeypatch, capsys):
    def broken(work):
        raise RuntimeError("apt-get failed: no network")

    monkeypatch.setitem(rse.SOURCES, "asterisk", broken)
    rows = rse.build(tmp_path, ["asterisk", "alsa"], limit=2, seed=0)
    assert [r["source"] for r in rows] == ["alsa", "alsa"]
    assert "skipping source asterisk: apt-get failed: no network" in capsys.readouterr().err
