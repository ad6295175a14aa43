"""`codec eval` end to end on a tiny random model, baselines' delay compensation, WER helpers."""

from __future__ import annotations

import argparse
import json
import shutil
import sys

import numpy as np
import pytest
import soundfile as sf
import torch

from codec import metrics
from codec.commands import eval as eval_command
from codec.eval.baselines import Baseline, align_to_reference, available_baselines, estimate_delay, run_baseline
from codec.eval.protocol import edit_distance, error_rates, evaluate, load_eval_items, scored_codebook_counts
from tests.conftest import make_model, speechlike

PHONES = ("a", "e", "i", "o", "u", "m", "s")
HAVE_FFMPEG = shutil.which("ffmpeg") is not None
HAVE_CODEC2 = shutil.which("c2enc") is not None and shutil.which("c2dec") is not None


def _alignment(seconds: float, seed: int) -> list[list]:
    """Silence, then 100 ms phones cycling through PHONES, then silence."""
    rows, t, i = [[0.0, 0.1, "sil"]], 0.1, seed
    while t + 0.2 <= seconds:
        rows.append([round(t, 3), round(t + 0.1, 3), PHONES[i % len(PHONES)]])
        t, i = t + 0.1, i + 1
    return rows + [[round(t, 3), seconds, "sil"]]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict:
    """A saved tiny model and 4 speech-like files with a JSONL manifest (text + alignment)."""
    root = tmp_path_factory.mktemp("eval")
    model_dir = make_model().save_pretrained(root / "model")
    rows = []
    for i in range(4):
        seconds = 1.0 + 0.2 * i
        sf.write(root / f"utt{i}.wav", speechlike(seconds, seed=i).numpy(), 16000)
        rows.append(
            {"path": f"utt{i}.wav", "id": f"utt{i}", "text": f"hello number {i}", "alignment": _alignment(seconds, i)}
        )
    manifest = root / "test.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return {"root": root, "model": model_dir, "manifest": manifest}


def _run_eval(argv: list[str]) -> int:
    """Parse `eval` arguments with the command's own parser and run it."""
    parser = argparse.ArgumentParser(prog="codec")
    eval_command.add_parser(parser.add_subparsers(dest="command"))
    return eval_command.run(parser.parse_args(["eval", *argv]))


def test_eval_end_to_end_writes_report(corpus, tmp_path, capsys, monkeypatch):
    out = tmp_path / "report"
    argv = [
        "--model",
        str(corpus["model"]),
        str(corpus["manifest"]),
        "--report",
        str(out),
        "--num-codebooks",
        "2",
        "--baselines",
        "none",
        "--no-progress",
    ]
    monkeypatch.setattr(sys, "argv", ["/usr/bin/codec", "eval", *argv])
    rc = _run_eval(argv)
    assert rc == 0
    expected = {"report.json", "report.md", "metrics_vs_codebooks.png", "spectrogram.png"}
    assert expected <= {p.name for p in out.iterdir()}
    report = json.loads((out / "report.json").read_text())
    systems = {s["name"]: s for s in report["systems"]}
    assert set(systems) == {"codec k=1", "codec k=2", "codec k=4"}  # requested 2 + coarse 1 + full 4
    assert systems["codec k=1"]["role"] == "coarse" and systems["codec k=4"]["role"] == "full"
    assert systems["codec k=4"]["kbps"] == pytest.approx(4 * 6 * 50 / 1000)
    assert 0 < systems["codec k=1"]["empirical_kbps"] <= systems["codec k=4"]["empirical_kbps"] <= 1.2
    for s in systems.values():
        assert all(s["scores"][m] is not None for m in ("mel", "stft", "si_sdr", "pesq", "stoi"))
    assert len(report["files"]) == 4 * 3 and report["num_files"] == 4
    assert len(report["codebooks"]) == 4
    for c in report["codebooks"]:
        assert 0 < c["purity"] <= 1 and 0 <= c["pnmi"] <= 1 and 1 <= c["perplexity"] <= 64
    assert report["model_id"].startswith("tiny-frame-vocoder@") and report["command"].startswith("codec eval --model")
    md = (out / "report.md").read_text()
    assert "codec k=1 (coarse)" in md and "codec k=4 (full)" in md and "PNMI" in md
    assert "codec k=4 (full)" in capsys.readouterr().out


def test_eval_rejects_bad_codebook_counts():
    with pytest.raises(ValueError, match=r"\[1, 4\]"):
        scored_codebook_counts(4, 1, [8])
    assert scored_codebook_counts(8, 2, None) == [1, 2, 4, 8]
    assert scored_codebook_counts(8, 2, [3]) == [2, 3, 8]


def test_eval_asr_rows_with_a_stub_transcriber(corpus):
    items, errors = load_eval_items([str(corpus["manifest"])], max_files=2)
    assert not errors and len(items) == 2 and items[0].alignment and items[0].text == "hello number 0"
    report = evaluate(make_model(), items, [1], transcriber=lambda audio: "hello number 0", progress=False)
    rows = {s.name: s for s in report.systems}
    assert rows["original"].wer == pytest.approx(1 / 6)  # one of 6 words wrong over the two files
    assert rows["codec k=1"].wer == pytest.approx(1 / 6) and rows["codec k=4"].cer is not None


def test_edit_distance_and_error_rates():
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance([], ["a"]) == 1
    assert error_rates(["Hello, world!"], ["hello world"]) == (0.0, 0.0)
    wer, _ = error_rates(["a b c d"], ["a x c"])
    assert wer == pytest.approx(0.5)


def test_alignment_recovers_a_known_delay():
    ref = speechlike(1.0)
    late = torch.cat([torch.zeros(80), ref])  # 5 ms late and longer than the reference
    early = ref[48:]  # 3 ms early and shorter
    assert estimate_delay(ref, late, 800) == 80 and estimate_delay(ref, early, 800) == -48
    aligned = align_to_reference(ref, late, 16000)
    assert aligned.shape == ref.shape and torch.equal(aligned, ref)
    assert align_to_reference(ref, early, 16000).shape == ref.shape


@pytest.mark.slow
@pytest.mark.skipif(not (HAVE_FFMPEG and HAVE_CODEC2), reason="needs apt packages ffmpeg and codec2")
@pytest.mark.parametrize(
    "baseline, max_mel, min_corr", [(Baseline("opus", 12000), 0.5, 0.3), (Baseline("codec2", 3200), 1.2, 0.1)]
)
def test_baseline_roundtrip_is_aligned_and_plausible(baseline, max_mel, min_corr):
    ref = speechlike(1.0)
    out = run_baseline(baseline, ref, 16000)
    assert out.shape == ref.shape and bool(torch.isfinite(out).all())
    assert metrics.log_mel_distance(ref, out, 16000) < max_mel
    # after compensation no shift within +-2 ms correlates better with the reference than zero
    assert abs(estimate_delay(ref, out, 32)) <= 1
    assert np.corrcoef(ref.numpy(), out.numpy())[0, 1] > min_corr


@pytest.mark.slow
@pytest.mark.skipif(not (HAVE_FFMPEG and HAVE_CODEC2), reason="needs apt packages ffmpeg and codec2")
def test_eval_with_baselines_has_their_rows(corpus, tmp_path):
    assert len(available_baselines().baselines) == 6
    out = tmp_path / "report"
    rc = _run_eval(
        [
            "--model",
            str(corpus["model"]),
            str(corpus["manifest"]),
            "--report",
            str(out),
            "--num-codebooks",
            "1",
            "--max-files",
            "1",
            "--no-progress",
        ]
    )
    assert rc == 0
    systems = {s["name"]: s for s in json.loads((out / "report.json").read_text())["systems"]}
    for name in ("opus-6k", "opus-8k", "opus-12k", "codec2-1200", "codec2-2400", "codec2-3200"):
        assert systems[name]["kind"] == "baseline" and systems[name]["scores"]["mel"] is not None
    assert systems["opus-12k"]["scores"]["mel"] < systems["codec2-1200"]["scores"]["mel"]


def test_eval_records_bad_and_missing_inputs_and_goes_on(corpus, tmp_path, capsys):
    """A corrupt and a missing file are listed in the report; the rest is scored; exit status 1."""
    (tmp_path / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot audio")
    manifest = tmp_path / "m.jsonl"
    rows = [
        {"path": str(tmp_path / "corrupt.wav"), "id": "bad"},
        {"path": str(tmp_path / "gone.wav"), "id": "gone"},
        {"path": str(corpus["root"] / "utt0.wav"), "id": "utt0"},
    ]
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "report"
    rc = _run_eval(
        [
            "--model",
            str(corpus["model"]),
            str(manifest),
            str(tmp_path / "nothing-*.wav"),
            "--report",
            str(out),
            "--baselines",
            "none",
            "--no-progress",
        ]
    )
    assert rc == 1
    report = json.loads((out / "report.json").read_text())
    assert report["num_files"] == 1 and {f["file"] for f in report["files"]} == {"utt0"}
    failed = {path.rsplit("/", 1)[-1]: why for path, why in report["failed"]}
    assert set(failed) == {"corrupt.wav", "gone.wav", "nothing-*.wav"}
    assert "Failed inputs" in (out / "report.md").read_text()
    assert "3 input(s) failed" in capsys.readouterr().err
