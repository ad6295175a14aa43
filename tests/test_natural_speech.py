"""The natural-speech corpus recipe: augmentation, speaker-disjoint splits, licences, resume."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from recipes.data import natural_speech
from recipes.data.augment import apply_augmentation, plan_augmentation, speed_factor
from tests.conftest import speechlike


def test_augmentation_is_deterministic_and_recorded_as_json():
    chains = [plan_augmentation(random.Random(f"0:{i}")) for i in range(40)]
    assert chains == [plan_augmentation(random.Random(f"0:{i}")) for i in range(40)]
    assert json.loads(json.dumps(chains)) == chains
    assert {step["op"] for chain in chains for step in chain} >= {"speed", "eq", "noise", "level"}
    x = speechlike(1.0).numpy()
    for chain in chains[:10]:
        y = apply_augmentation(x, chain, seed=7)
        np.testing.assert_array_equal(y, apply_augmentation(x, chain, seed=7))
        assert abs(len(y) - len(x) / speed_factor(chain)) <= 2 and np.abs(y).max() <= 1.0


def test_augmentation_ops_do_what_they_say():
    x = speechlike(2.0).numpy()
    quiet = apply_augmentation(x, [{"op": "level", "rms_db": -40.0}], seed=0)
    loud = apply_augmentation(x, [{"op": "level", "rms_db": -20.0}], seed=0)
    assert 5 < np.sqrt(np.mean(loud**2)) / np.sqrt(np.mean(quiet**2)) < 15
    narrow = apply_augmentation(
        x + 0.05 * np.random.default_rng(0).standard_normal(len(x)), [{"op": "eq", "lowpass_hz": 3400}], seed=0
    )
    spectrum = np.abs(np.fft.rfft(narrow))
    freqs = np.fft.rfftfreq(len(narrow), 1 / 16000)
    assert spectrum[freqs > 5000].mean() < 0.05 * spectrum[freqs < 3000].mean()
    noisy = apply_augmentation(x, [{"op": "noise", "color": "pink", "snr_db": 10.0}], seed=0)
    assert 0.05 < np.mean((noisy - x) ** 2) / np.mean(x**2) < 0.5
    faster = apply_augmentation(x, [{"op": "speed", "factor": 1.1}], seed=0)
    assert abs(len(faster) - len(x) / 1.1) <= 2


def fake_fillets(root: Path) -> Path:
    """A fillets-ng-like tree: two main actors (m, v) in every level and one minor role per level."""
    for level in ("aztec", "bar", "city", "disk", "engine", "fleet", "gods", "house"):
        for k, role in enumerate(("m", "v", "x")):
            path = root / natural_speech.FILLETS / level / "cs" / f"{level[:3]}-{role}-line{k}.ogg"
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(path, speechlike(0.6, 22050, seed=k).numpy(), 22050, format="OGG", subtype="VORBIS")
    return root


def test_build_splits_speakers_records_licences_and_resumes(tmp_path, monkeypatch):
    root = fake_fillets(tmp_path / "pkg")
    monkeypatch.setattr(natural_speech, "apt_extract", lambda packages, work: root)
    out = tmp_path / "corpus"
    rows = natural_speech.build(out, ["fillets-cs"], {}, 0.0, augment=0.5, heldout=0.4, seed=0, jobs=1, progress=False)
    assert len(rows) == 24
    train = [json.loads(l) for l in (out / "manifest.jsonl").read_text().splitlines()]
    held = [json.loads(l) for l in (out / "manifest_heldout.jsonl").read_text().splitlines()]
    assert held and train and not {r["speaker"] for r in train} & {r["speaker"] for r in held}
    assert {"fillets_cs-fish_f", "fillets_cs-fish_m"} <= {r["speaker"] for r in train}  # main actors stay
    assert all(not r["augment"] for r in held) and any(r["augment"] for r in train)
    info = sf.info(str(out / train[0]["path"]))
    assert info.samplerate == 16000 and info.channels == 1
    licences = json.loads((out / "licences.json").read_text())
    assert licences["fillets-cs"]["licence"].startswith("GPL-2.0") and licences["fillets-cs"]["items"] == 24
    stamp = (out / train[0]["path"]).stat().st_mtime_ns
    again = natural_speech.build(out, ["fillets-cs"], {}, 0.0, augment=0.5, heldout=0.4, seed=0, jobs=1, progress=False)
    assert again == rows and (out / train[0]["path"]).stat().st_mtime_ns == stamp


def test_tts_tasks_are_prefix_stable_and_hold_out_whole_voices():
    texts = [f"Sentence number {i}." for i in range(50)]
    short = natural_speech.tts_tasks("hibari", 1.0, texts, 0, 0.5, seed=0)
    longer = natural_speech.tts_tasks("hibari", 2.0, texts, 0, 0.5, seed=0)
    assert [t.id for t in longer[: len(short)]] == [t.id for t in short]
    assert longer[: len(short)] == short


def test_hibari_item_is_rendered_at_16k(tmp_path):
    pytest.importorskip("hibari")
    pytest.importorskip("onnxruntime")
    task = natural_speech.tts_tasks("hibari", 0.05, ["A short test sentence."], 0, 0.0, seed=0)[0]
    row = natural_speech.render(task, str(tmp_path))
    assert row["source"] == "hibari" and row["text"] == "A short test sentence." and row["duration"] > 0.5
    assert sf.info(str(tmp_path / row["path"])).samplerate == 16000


def test_band_limited_recordings_stay_out_of_the_manifests(tmp_path, monkeypatch):
    """A telephone-band clip (nothing above ~2 kHz) is rendered but not listed; full-band ones carry bandwidth_hz."""
    from scipy import signal

    from recipes.data.bandwidth import effective_bandwidth

    root = fake_fillets(tmp_path / "pkg")
    dull = root / natural_speech.FILLETS / "aztec" / "cs" / "azt-m-line0.ogg"
    sos = signal.butter(8, 2000, fs=22050, output="sos")
    sf.write(dull, signal.sosfilt(sos, speechlike(0.6, 22050, seed=0).numpy()), 22050, format="OGG", subtype="VORBIS")
    assert effective_bandwidth(sf.read(dull)[0], 22050) < 3000 < effective_bandwidth(speechlike(0.6).numpy(), 16000)
    monkeypatch.setattr(natural_speech, "apt_extract", lambda packages, work: root)
    out = tmp_path / "corpus"
    rows = natural_speech.build(out, ["fillets-cs"], {}, 0.0, augment=0.5, heldout=0.4, seed=0, jobs=1, progress=False)
    assert len(rows) == 23 and all(r["bandwidth_hz"] >= 4000 for r in rows)
    listed = (out / "manifest.jsonl").read_text() + (out / "manifest_heldout.jsonl").read_text()
    assert "azt-m-line0" not in json.dumps([json.loads(line)["original"] for line in listed.splitlines()])
    assert len(natural_speech.build(out, ["fillets-cs"], {}, 0.0, 0.5, 0.4, 0, 1, False, min_bandwidth=0)) == 24


def test_manifest_filter_judges_augmented_rows_by_their_original(tmp_path):
    from scipy import signal

    from recipes.data.bandwidth import filter_manifest

    sos = signal.butter(8, 2000, fs=16000, output="sos")
    full, dull = speechlike(0.6).numpy(), signal.sosfilt(sos, speechlike(0.6).numpy())
    sf.write(tmp_path / "full.wav", full, 16000)
    sf.write(tmp_path / "dull.wav", dull, 16000)
    noisy = dull + 0.05 * np.random.default_rng(0).standard_normal(dull.size)  # noise fills the band
    sf.write(tmp_path / "noisy.wav", noisy, 16000)
    rows = [
        {"path": "full.wav", "source": "a"},
        {"path": "dull.wav", "source": "b"},
        {"path": "noisy.wav", "source": "b", "augment": [{"op": "noise"}], "original": "dull.wav"},
    ]
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    counts = filter_manifest(manifest, tmp_path / "out.jsonl", 4000, originals=tmp_path, progress=False)
    kept = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert counts == {"a": [1, 1], "b": [0, 2]} and [r["path"] for r in kept] == ["full.wav"]
    assert kept[0]["bandwidth_hz"] >= 4000
    filter_manifest(manifest, tmp_path / "all.jsonl", 4000, progress=False)  # without originals: noise passes
    assert len((tmp_path / "all.jsonl").read_text().splitlines()) == 2
