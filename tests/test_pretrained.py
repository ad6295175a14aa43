"""The shipped checkpoint: registered, sha256-verified, loads by name offline, also from a built wheel."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import soundfile as sf
import torch

import codec
from codec.hub.registry import PACKAGED_REGISTRY
from codec.io.weights import sha256_file
from tests.conftest import speechlike

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = "speechcodec-16k-50hz"


def test_shipped_model_is_registered_and_files_match():
    registry = json.loads(Path(PACKAGED_REGISTRY).read_text())
    entry = registry["models"][SHIPPED]
    assert entry["source"] == "package:"
    directory = Path(PACKAGED_REGISTRY).parent / SHIPPED
    for name, digest in entry["files"].items():
        assert sha256_file(directory / name) == digest, name
    size = sum((directory / name).stat().st_size for name in entry["files"])
    assert size <= 50 * 2**20


def test_load_by_name_offline_round_trip(tmp_path, monkeypatch):
    monkeypatch.setenv("CODEC_OFFLINE", "1")
    model = codec.load(SHIPPED)
    path = tmp_path / "speech.wav"
    sf.write(path, speechlike(1.3, 22050).numpy(), 22050)
    tokens = model.tokenize(path)
    assert tokens.codes.shape == (1, 8, 65) and tokens.model_id == model.model_id
    audio = model.detokenize(tokens)
    assert audio.shape == (1, 1, 20800) and torch.isfinite(audio).all() and audio.abs().max() > 0


@pytest.mark.slow
def test_non_editable_install_loads_the_shipped_model(tmp_path):
    wheel_dir, target, source = tmp_path / "wheel", tmp_path / "site", tmp_path / "src"
    # Build from a copy: setuptools writes build/ into the source tree and reuses stale files found there.
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "data", "runs", "build", "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis"
        ),
    )
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheel_dir),
            str(source),
        ],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = wheel_dir.glob("speechcodec-*.whl")
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, install.stderr[-2000:]
    # -S: no site processing, so the editable install's import hook is not active; only the wheel is.
    script = (
        # The wheel first; site-packages after the standard library, as `site` would (a stray `typing`
        # backport there, pulled in by resemblyzer, must not shadow the standard library's).
        "import sys; sys.path.insert(0, sys.argv[1]); sys.path.append(sys.argv[2])\n"
        "import codec, torch\n"
        "assert codec.__file__.startswith(sys.argv[1]), codec.__file__\n"
        f"m = codec.load('{SHIPPED}')\n"
        "t = m.tokenize(torch.zeros(8000) + 0.01, 16000)\n"
        "print(m.detokenize(t).shape[-1], m.model_id)\n"
    )
    env = {**os.environ, "CODEC_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
    run = subprocess.run(
        [sys.executable, "-S", "-c", script, str(target), sysconfig.get_paths()["purelib"]],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split()[0] == "8000" and SHIPPED in run.stdout

    # The sha256 check runs on every load: one flipped byte in the installed weights is refused.
    weights = target / "codec" / "pretrained" / SHIPPED / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    run = subprocess.run(
        [sys.executable, "-S", "-c", script, str(target), sysconfig.get_paths()["purelib"]],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert run.returncode != 0 and "model.safetensors" in run.stderr and "reinstall" in run.stderr


@pytest.mark.slow
def test_finetune_recipe_continues_from_the_shipped_release(tmp_path):
    from codec.train.config import load_train_config
    from codec.train.loop import train

    wav = tmp_path / "utt.wav"
    sf.write(wav, speechlike(1.0, 16000).numpy(), 16000)
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"path": "utt.wav", "alignment": [[0.0, 0.5, "a"], [0.5, 1.0, "b"]]}) + "\n")
    cfg = load_train_config(
        ROOT / "recipes" / "finetune.yaml",
        [
            f"out_dir={tmp_path / 'run'}",
            f"data.train_manifest={manifest}",
            f"data.valid_manifest={manifest}",
            "max_steps=1",
            "data.batch_size=1",
            "data.segment_seconds=0.4",
            "eval_every=1000",
            "threads=1",
        ],
    )
    result = train(cfg)
    assert result.step == 1 and "loss/adversarial" in result.metrics


def test_detokenize_finds_the_registered_model_from_the_tokens(tmp_path, capsys):
    from codec.cli import main

    sf.write(tmp_path / "a.wav", speechlike(0.7, 16000).numpy(), 16000)
    assert main(["tokenize", str(tmp_path / "a.wav"), "-o", str(tmp_path / "tok"), "--model", SHIPPED]) == 0
    assert main(["detokenize", str(tmp_path / "tok"), "-o", str(tmp_path / "wav")]) == 0
    assert sf.info(tmp_path / "wav" / "a.wav").frames == 11200

    capsys.readouterr()
    tokens = codec.Tokens.load(tmp_path / "tok" / "a.safetensors")
    (tmp_path / "other").mkdir()
    dataclasses.replace(tokens, model_id="not-registered@0123456789ab").save(tmp_path / "other" / "b.safetensors")
    assert main(["detokenize", str(tmp_path / "other"), "-o", str(tmp_path / "wav2")]) == 1  # recorded, not fatal
    err = capsys.readouterr().err
    assert "not-registered" in err and "pass --model" in err
    assert "b.safetensors" in (tmp_path / "wav2" / "errors.jsonl").read_text()
