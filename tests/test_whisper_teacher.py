"""Whisper encoder teacher: a tiny random-weight CTranslate2 Whisper built in the test, prep-teacher, training."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import soundfile as sf
from safetensors import safe_open

from codec.cli import main
from tests.conftest import speechlike
from tests.test_train import ROOT, tiny_overrides

ctranslate2 = pytest.importorskip("ctranslate2")

D_MODEL, MELS = 64, 80
TOKENS = [
    "<|endoftext|>",
    "<|startoftranscript|>",
    "<|en|>",
    "<|translate|>",
    "<|transcribe|>",
    "<|startoflm|>",
    "<|startofprev|>",
    "<|nocaptions|>",
    "<|notimestamps|>",
    "a",
    "b",
    "<|0.00|>",
]


def variable_shape(scope: str) -> tuple[int, ...]:
    """The shape of one WhisperSpec variable (`encoder/layer_0/ffn/linear_0/weight`, ...) for the tiny model."""
    *parents, leaf = scope.split("/")
    parent, d = "/".join(parents), D_MODEL
    if leaf in ("gamma", "beta"):
        return (d,)
    if leaf == "encodings":
        return (1500 if parent.startswith("encoder") else 448, d)
    if parent.endswith(("conv1", "conv2")):
        return (d, MELS if parent.endswith("conv1") else d, 3) if leaf == "weight" else (d,)
    if parent.endswith(("embeddings", "projection")):
        return (len(TOKENS), d)
    wide = {"self_attention/linear_0": 3 * d, "attention/linear_1": 2 * d, "ffn/linear_0": 4 * d}
    rows = next((n for name, n in wide.items() if parent.endswith(name)), d)
    return (rows, 4 * d if parent.endswith("ffn/linear_1") else d) if leaf == "weight" else (rows,)


def write_tiny_whisper(directory: Path) -> Path:
    """Save a 1-layer, 64-wide random-weight Whisper (80 mels) as a CTranslate2 model directory."""
    import numpy as np
    from ctranslate2.specs import model_spec, whisper_spec

    rng = np.random.default_rng(0)
    spec = whisper_spec.WhisperSpec(
        num_encoder_layers=1, num_encoder_heads=2, num_decoder_layers=1, num_decoder_heads=2
    )

    def fill(layer: object, scope: str, value: object) -> None:
        leaf = scope.split("/")[-1]
        if value is None or (value is model_spec.OPTIONAL and leaf in ("bias", "encodings")):
            scale = 1.0 if leaf == "gamma" else 0.1
            setattr(layer, leaf, (scale * rng.standard_normal(variable_shape(scope))).astype(np.float32))

    model_spec.visit_spec(spec, fill)
    spec.register_vocabulary(TOKENS)
    spec.config.suppress_ids, spec.config.suppress_ids_begin = [], []
    spec.config.lang_ids, spec.config.alignment_heads = [TOKENS.index("<|en|>")], [(0, 0)]
    spec.validate()  # wraps the arrays as ctranslate2 variables, as the converters do before saving
    spec.optimize()
    directory.mkdir(parents=True)
    spec.save(str(directory))
    return directory


@pytest.fixture(scope="module")
def tiny_whisper(tmp_path_factory) -> Path:
    return write_tiny_whisper(tmp_path_factory.mktemp("whisper") / "tiny-whisper")


def write_manifest(directory: Path, corrupt: bool = False) -> Path:
    """Two speech-like files (1.3 s at 22.05 kHz, 0.7 s at 16 kHz) and optionally a corrupt one."""
    directory.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, (seconds, rate) in enumerate([(1.3, 22050), (0.7, 16000)]):
        sf.write(directory / f"utt{i}.wav", speechlike(seconds, rate, seed=i).numpy(), rate)
        rows.append({"path": f"utt{i}.wav", "duration": seconds})
    if corrupt:
        (directory / "corrupt.wav").write_bytes(b"RIFF....WAVEjunk")
        rows.append({"path": "corrupt.wav"})
    manifest = directory / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return manifest


def test_prep_teacher_writes_whisper_states_and_skips_existing(tmp_path, tiny_whisper):
    manifest = write_manifest(tmp_path / "data")
    assert main(["prep-teacher", str(manifest), "--whisper-encoder", str(tiny_whisper), "--suffix", "whisper"]) == 0
    for name, samples_16k in [("utt0.wav", round(1.3 * 16000)), ("utt1.wav", round(0.7 * 16000))]:
        path = tmp_path / "data" / f"{name}.whisper.safetensors"
        with safe_open(str(path), "pt") as f:
            features, rate = f.get_tensor("features"), f.get_tensor("frame_rate")
            assert f.metadata() == {"model": "whisper-encoder:tiny-whisper"}
        assert features.shape == (math.ceil(samples_16k / 320), D_MODEL)
        assert str(features.dtype) == "torch.float16" and features.float().std() > 0
        assert float(rate) == 50.0
    stamp = (tmp_path / "data" / "utt0.wav.whisper.safetensors").stat().st_mtime_ns
    assert main(["prep-teacher", str(manifest), "--whisper-encoder", str(tiny_whisper), "--suffix", "whisper"]) == 0
    assert (tmp_path / "data" / "utt0.wav.whisper.safetensors").stat().st_mtime_ns == stamp


def test_corrupt_file_is_reported_and_fails_the_run(tmp_path, tiny_whisper, capsys):
    manifest = write_manifest(tmp_path / "data", corrupt=True)
    assert main(["prep-teacher", str(manifest), "--whisper-encoder", str(tiny_whisper), "--suffix", "whisper"]) == 1
    assert "corrupt.wav" in capsys.readouterr().err
    assert (tmp_path / "data" / "utt1.wav.whisper.safetensors").is_file()


def test_missing_model_dir_is_named_and_teachers_are_exclusive(tmp_path):
    from codec.models.whisper_teacher import WhisperEncoderTeacher

    with pytest.raises(FileNotFoundError, match="nowhere"):
        WhisperEncoderTeacher(tmp_path / "nowhere")
    with pytest.raises(SystemExit):
        main(["prep-teacher", "m.jsonl", "--model", "hubert_base", "--whisper-encoder", str(tmp_path)])


def test_whisper_states_teach_a_tiny_training_run(tmp_path, tiny_whisper):
    from codec.train.config import load_train_config
    from codec.train.loop import train

    manifest = write_manifest(tmp_path / "data")
    assert main(["prep-teacher", str(manifest), "--whisper-encoder", str(tiny_whisper), "--suffix", "whisper"]) == 0
    extra = [
        "teacher.kind=precomputed",
        "teacher.suffix=whisper",
        f"teacher.dim={D_MODEL}",
        "max_steps=1",
        "checkpoint_every=100",
    ]
    cfg = load_train_config(ROOT / "recipes" / "tiny.yaml", tiny_overrides(tmp_path / "run", manifest, 1) + extra)
    assert train(cfg).metrics["loss/distill"] > 0


def test_whisper_teaches_on_the_fly_through_the_registry(tmp_path, tiny_whisper):
    from codec.models.teachers import TeacherConfig, build_feature_model, extract_features
    from codec.train.config import load_train_config
    from codec.train.loop import train

    model = build_feature_model(TeacherConfig("whisper", model_dir=str(tiny_whisper)))
    assert model.dim == D_MODEL and extract_features(model, speechlike(0.5), 16000).shape == (25, D_MODEL)
    manifest = write_manifest(tmp_path / "data")
    extra = ["teacher.kind=whisper", f"teacher.model_dir={tiny_whisper}", "max_steps=1", "checkpoint_every=1"]
    cfg = load_train_config(ROOT / "recipes" / "tiny.yaml", tiny_overrides(tmp_path / "run", manifest, 1) + extra)
    assert train(cfg).metrics["loss/distill"] > 0
    from safetensors.torch import load_file

    aux = load_file(str(next((tmp_path / "run").rglob("aux.safetensors"))))
    assert aux["distill.proj.weight"].shape[0] == D_MODEL
