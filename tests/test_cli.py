"""`codec tokenize|detokenize|info` end to end on a tiny random model saved to a temp dir."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from codec.cli import main
from codec.tokens import Tokens
from tests.conftest import make_model, speechlike


@pytest.fixture()
def corpus(tmp_path):
    root = tmp_path / "corpus"
    (root / "spk1").mkdir(parents=True)
    (root / "spk2" / "deep").mkdir(parents=True)
    sf.write(root / "spk1" / "a.wav", speechlike(0.5).numpy(), 16000)
    sf.write(root / "spk1" / "b.flac", speechlike(0.8, 22050, seed=1).numpy(), 22050)
    stereo = np.stack([speechlike(0.3, 48000, seed=2).numpy()] * 2, axis=1)
    sf.write(root / "spk2" / "deep" / "c.ogg", stereo, 48000, format="OGG")
    (root / "spk2" / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really audio")
    sf.write(root / "spk2" / "empty.wav", np.zeros(0, dtype=np.float32), 16000)
    return root


@pytest.fixture()
def model_dir(tmp_path):
    return make_model().save_pretrained(tmp_path / "model")


def test_tokenize_detokenize_tree_with_bad_files(tmp_path, corpus, model_dir, capsys):
    out = tmp_path / "tokens"
    status = main(["tokenize", str(corpus), "-o", str(out), "--model", str(model_dir), "--batch-size", "2"])
    assert status == 1
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.safetensors"))
    assert written == ["spk1/a.safetensors", "spk1/b.safetensors", "spk2/deep/c.safetensors"]
    errors = [json.loads(line) for line in (out / "errors.jsonl").read_text().splitlines()]
    assert sorted(e["input"].rsplit("/", 1)[-1] for e in errors) == ["corrupt.wav", "empty.wav"]
    assert any("zero-length" in e["error"] for e in errors)
    stderr = capsys.readouterr().err
    assert "corrupt.wav" in stderr and "empty.wav" in stderr
    assert not list(out.rglob("*.tmp*")), "no temp files may be left behind"

    tokens = Tokens.load(out / "spk1" / "b.safetensors")
    assert tokens.audio_lengths.tolist() == [12800]  # 0.8 s resampled to 16 kHz
    assert tokens.codes.shape == (1, 4, 40)

    audio_out = tmp_path / "audio"
    assert main(["detokenize", str(out), "-o", str(audio_out), "--model", str(model_dir)]) == 0
    decoded = {p.relative_to(audio_out).as_posix(): sf.info(p) for p in audio_out.rglob("*.wav")}
    assert sorted(decoded) == ["spk1/a.wav", "spk1/b.wav", "spk2/deep/c.wav"]
    assert decoded["spk1/a.wav"].frames == 8000 and decoded["spk1/a.wav"].samplerate == 16000
    assert decoded["spk2/deep/c.wav"].frames == 4800

    # A second run refuses to overwrite and changes nothing.
    before = (out / "spk1" / "a.safetensors").stat().st_mtime_ns
    assert main(["tokenize", str(corpus), "-o", str(out), "--model", str(model_dir)]) == 2
    assert "--force" in capsys.readouterr().err
    assert (out / "spk1" / "a.safetensors").stat().st_mtime_ns == before
    assert main(["tokenize", str(corpus / "spk1"), "-o", str(out / "spk1"), "--model", str(model_dir), "--force"]) == 0


def test_manifest_glob_and_num_codebooks(tmp_path, corpus, model_dir):
    manifest = tmp_path / "list.jsonl"
    manifest.write_text(
        json.dumps({"path": str(corpus / "spk1" / "a.wav"), "id": "utt-a"})
        + "\n"
        + json.dumps({"path": "missing.wav"})
        + "\n"
    )
    out = tmp_path / "tok"
    status = main(
        [
            "tokenize",
            str(manifest),
            str(corpus / "spk2" / "**" / "*.ogg"),
            "-o",
            str(out),
            "--model",
            str(model_dir),
            "--num-codebooks",
            "2",
        ]
    )
    assert status == 1
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.safetensors"))
    assert written == ["deep/c.safetensors", "utt-a.safetensors"]
    assert Tokens.load(out / "utt-a.safetensors").num_codebooks == 2
    assert "missing.wav" in (out / "errors.jsonl").read_text()


def test_detokenize_rejects_tokens_of_another_model(tmp_path, corpus, model_dir):
    out = tmp_path / "tok"
    main(["tokenize", str(corpus / "spk1" / "a.wav"), "-o", str(out), "--model", str(model_dir)])
    other = make_model(encoder="conv", decoder="conv").save_pretrained(tmp_path / "other")
    assert main(["detokenize", str(out), "-o", str(tmp_path / "wav"), "--model", str(other)]) == 1
    assert "tokens come from model" in (tmp_path / "wav" / "errors.jsonl").read_text()


@pytest.mark.slow
def test_info_and_help_via_subprocess(model_dir):
    run = subprocess.run(
        [sys.executable, "-m", "codec", "info", str(model_dir), "--json"], capture_output=True, text=True, check=True
    )
    facts = json.loads(run.stdout)
    assert facts["frame_rate"] == 50.0 and facts["num_codebooks"] == 4 and facts["bitrate_bps"] == 1200.0
    assert "non-causal" in facts["latency"]
    for command in ("tokenize", "detokenize", "info"):
        help_text = subprocess.run(
            [sys.executable, "-m", "codec", command, "--help"], capture_output=True, text=True, check=True
        ).stdout
        assert "usage: codec " + command in help_text


def test_long_files_go_through_the_windowed_path(tmp_path, model_dir):
    from codec.runtime.longform import LONGFORM_THRESHOLD_SECONDS

    seconds = LONGFORM_THRESHOLD_SECONDS + 2
    sf.write(tmp_path / "long.wav", np.tile(speechlike(2.0).numpy(), int(seconds / 2)), 16000)
    out = tmp_path / "tok"
    assert main(["tokenize", str(tmp_path / "long.wav"), "-o", str(out), "--model", str(model_dir)]) == 0
    tokens = Tokens.load(out / "long.safetensors")
    assert tokens.audio_lengths.tolist() == [int(seconds) * 16000]
    assert main(["detokenize", str(out), "-o", str(tmp_path / "wav"), "--model", str(model_dir)]) == 0
    assert sf.info(tmp_path / "wav" / "long.wav").frames == int(seconds) * 16000
