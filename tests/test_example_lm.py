"""The examples/ sequence model, end to end on a toy config: corpus -> `codec prep` -> train -> sample -> audio."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf
import torch

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow  # runs `codec prep` in a subprocess, then trains


def load_example(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def prepped(tmp_path_factory) -> tuple[Path, Path]:
    """(tokens dir written by the `codec prep` command, tiny codec dir) for 12 one-second clips."""
    root = tmp_path_factory.mktemp("lm_example")
    corpus = load_example("make_corpus")
    (root / "corpus").mkdir()
    for i in range(12):
        corpus.save_audio(root / "corpus" / f"clip{i:02d}.wav", corpus.speechlike(1.0, seed=i), corpus.SAMPLE_RATE)
    corpus.tiny_codec(root / "tiny")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "codec",
            "prep",
            str(root / "corpus"),
            "-o",
            str(root / "tokens"),
            "--model",
            str(root / "tiny"),
            "--num-workers",
            "0",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=500,
        check=False,  # slow only on a loaded machine
    )
    assert run.returncode == 0, run.stderr
    return root / "tokens", root / "tiny"


@pytest.mark.parametrize("layout", ["flatten", "delay", "depth"])
def test_tiny_lm_trains_samples_and_decodes(prepped, layout: str, tmp_path: Path) -> None:
    tokens, tiny = prepped
    train = load_example("train_lm")
    summary = train.main(
        [
            str(tokens),
            "--codec",
            str(tiny),
            "--layout",
            layout,
            "--out",
            str(tmp_path),
            "--steps",
            "60",
            "--batch-size",
            "8",
            "--frames",
            "25",
            "--dim",
            "64",
            "--prompt-frames",
            "5",
            "--sample-frames",
            "20",
            "--samples",
            "2",
            "--log-every",
            "10",
        ]
    )
    log = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [10, 20, 30, 40, 50, 60]
    assert log[-1]["loss"] < 0.8 * log[0]["loss"], log  # the logged loss falls
    assert summary["last_loss"] < 0.8 * summary["first_loss"]
    assert (summary["items"], summary["heldout_items"], summary["num_codebooks"]) == (11, 1, 4)
    assert summary["last_val_loss"] < summary["first_val_loss"]  # it generalises to the held-out clip
    for sample in summary["samples"]:
        assert sample["frames"] == 20
        assert sample["samples"] == sample["expected_samples"] == 20 * 320
        audio, rate = sf.read(tmp_path / sample["path"])
        assert rate == 16000 and audio.shape == (6400,)
        assert torch.isfinite(torch.from_numpy(audio)).all() and abs(audio).max() > 0
