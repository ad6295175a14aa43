"""Bad-input corpus for the file jobs: crafted manifests and tokens files, dangling links, races, modes, devices."""

from __future__ import annotations

import dataclasses
import json
import os
import stat
from pathlib import Path

import pytest
import soundfile as sf
import torch
from safetensors.torch import save as save_safetensors_bytes

from codec.cli import main
from codec.eval.protocol import load_eval_items
from codec.io import files
from codec.io.files import atomic_write_bytes
from codec.jobs import batch
from codec.prep import plan_items
from codec.tokens import Tokens
from tests.conftest import make_model, speechlike

ESCAPING_IDS = ["../../escaped", "/abs/path", "a\x00b", "sub/../../x", "..", "C:/windows", ""]


@pytest.fixture()
def model_dir(tmp_path):
    return make_model().save_pretrained(tmp_path / "model")


@pytest.fixture()
def wavs(tmp_path) -> Path:
    root = tmp_path / "wavs"
    root.mkdir()
    for n in range(2):
        sf.write(root / f"utt{n:02d}.wav", speechlike(0.3, seed=n).numpy(), 16000)
    return root


def escaping_manifest(tmp_path: Path, wavs: Path) -> Path:
    rows = [{"path": "wavs/utt00.wav", "id": i} for i in ESCAPING_IDS if i]
    rows.append({"path": "wavs/utt01.wav", "id": "ok/one"})
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return manifest


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("bad", ESCAPING_IDS)
def test_safe_relative_refuses_escaping_names(bad):
    with pytest.raises(ValueError, match=r"output directory|names no file"):
        files.safe_relative(bad)
    with pytest.raises(ValueError):
        files.output_path("/tmp/out", bad, ".safetensors")


def test_output_path_refuses_a_symlink_out_of_the_directory(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "link").symlink_to(tmp_path)
    with pytest.raises(ValueError, match="outside the output directory"):
        files.output_path(tmp_path / "out", "link/x", ".safetensors")
    assert files.output_path(tmp_path / "out", "a/b.wav", ".safetensors") == tmp_path / "out" / "a" / "b.safetensors"


def test_manifest_ids_cannot_escape_tokenize_output(tmp_path, wavs, model_dir):
    manifest = escaping_manifest(tmp_path, wavs)
    before = files_under(tmp_path)
    out = tmp_path / "out" / "sub"
    status = main(["tokenize", str(manifest), "-o", str(out), "--model", str(model_dir), "--quiet"])
    assert status == 1
    created = files_under(tmp_path) - before
    assert all(p.is_relative_to(out) for p in created), created
    assert {p.relative_to(out).as_posix() for p in created} == {"ok/one.safetensors", "errors.jsonl"}
    errors = [json.loads(line) for line in (out / "errors.jsonl").read_text().splitlines()]
    assert len(errors) == len([i for i in ESCAPING_IDS if i]) and all(e["input"] == str(manifest) for e in errors)
    assert all("row" in e["error"] and "output directory" in e["error"] for e in errors)
    assert not Path("/abs/path.safetensors").exists()


def test_manifest_ids_cannot_escape_detokenize_eval_or_prep(tmp_path, wavs, model_dir):
    tok = tmp_path / "tok"
    assert main(["tokenize", str(wavs), "-o", str(tok), "--model", str(model_dir), "--quiet"]) == 0
    manifest = tmp_path / "t.jsonl"
    manifest.write_text(
        json.dumps({"path": "tok/utt00.safetensors", "id": "../../escaped"})
        + "\n"
        + json.dumps({"path": "tok/utt01.safetensors", "id": "fine"})
        + "\n"
    )
    out = tmp_path / "o" / "sub"
    assert main(["detokenize", str(manifest), "-o", str(out), "--model", str(model_dir), "--quiet"]) == 1
    assert sorted(p.name for p in files_under(tmp_path / "o")) == ["errors.jsonl", "fine.wav"]
    assert not (tmp_path / "escaped.wav").exists()

    audio_manifest = escaping_manifest(tmp_path, wavs)
    items, errors = load_eval_items([str(audio_manifest)])
    assert [i.id for i in items] == ["ok/one"] and len(errors) == len([i for i in ESCAPING_IDS if i])
    items, spec_errors = plan_items([str(audio_manifest)])
    assert [i.id for i in items] == ["ok/one"] and all("output directory" in why for _, why in spec_errors)


def crafted_tokens(path: Path, **changes) -> Path:
    """A tokens file from the tiny model with tensors / metadata replaced as given."""
    tensors = {
        "codes": torch.zeros(1, 4, 10, dtype=torch.int16),
        "lengths": torch.tensor([10]),
        "audio_lengths": torch.tensor([3200]),
    }
    metadata = {
        "format": "codec.tokens",
        "format_version": "1",
        "sample_rate": "16000",
        "frame_rate": "50.0",
        "codebook_size": "64",
        "num_semantic_codebooks": "1",
        "model_id": "",
    }
    for key, value in changes.items():
        (tensors if isinstance(value, torch.Tensor) else metadata)[key] = value
    path.write_bytes(save_safetensors_bytes(tensors, metadata=metadata))
    return path


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"audio_lengths": torch.tensor([-100])}, "audio_lengths must be >= 0"),
        ({"lengths": torch.tensor([-5])}, "lengths must be >= 0"),
        ({"codes": torch.full((1, 4, 10), 1.7)}, "'codes' must hold integers"),
        ({"num_semantic_codebooks": "99"}, r"num_semantic_codebooks=99 must be in \[0, 4\]"),
        ({"sample_rate": "abc"}, "sample_rate='abc' is not an integer"),
        ({"frame_rate": "fast"}, "frame_rate='fast' is not a number"),
        ({"format_version": "x"}, "format_version 'x' is not an integer"),
    ],
)
def test_crafted_tokens_files_are_refused_naming_the_file(tmp_path, changes, message):
    path = crafted_tokens(tmp_path / "bad.safetensors", **changes)
    with pytest.raises(ValueError, match=message) as err:
        Tokens.load(path)
    assert str(path) in str(err.value)


def test_detokenize_refuses_crafted_and_batched_tokens(tmp_path, model_dir):
    from codec.models.codec import Codec

    good = Codec.from_pretrained(model_dir).tokenize([speechlike(0.3), speechlike(0.5, seed=1)], sample_rate=16000)
    tok = tmp_path / "tok"
    tok.mkdir()
    good.save(tok / "batch2.safetensors")
    good[0].save(tok / "single.safetensors")
    crafted_tokens(tok / "negative.safetensors", audio_lengths=torch.tensor([-100]))
    out = tmp_path / "wav"
    assert main(["detokenize", str(tok), "-o", str(out), "--model", str(model_dir), "--quiet"]) == 1
    assert sorted(p.name for p in out.glob("*.wav")) == ["single.wav"]
    lines = (out / "errors.jsonl").read_text().splitlines()
    errors = {Path(e["input"]).name: e["error"] for e in map(json.loads, lines)}
    assert "batch of 2 items" in errors["batch2.safetensors"]
    assert "audio_lengths must be >= 0" in errors["negative.safetensors"]


def test_an_output_created_by_another_run_is_not_replaced(tmp_path, wavs, model_dir, monkeypatch):
    """Two runs into one -o: the one that writes second fails for that file instead of replacing it."""
    out = tmp_path / "tok"
    real_plan = batch.plan_outputs

    def plan_then_race(*args, **kwargs):
        planned = real_plan(*args, **kwargs)
        atomic_write_bytes(planned[0][1], b"written by the other run")  # it lands between planning and writing
        return planned

    monkeypatch.setattr(batch, "plan_outputs", plan_then_race)
    assert main(["tokenize", str(wavs), "-o", str(out), "--model", str(model_dir)]) == 1
    assert (out / "utt00.safetensors").read_bytes() == b"written by the other run"
    Tokens.load(out / "utt01.safetensors")
    assert "already exists" in (out / "errors.jsonl").read_text()
    assert not list(out.rglob(".*tmp*"))
    monkeypatch.setattr(batch, "plan_outputs", real_plan)
    assert main(["tokenize", str(wavs), "-o", str(out), "--model", str(model_dir), "--quiet", "--force"]) == 0
    Tokens.load(out / "utt00.safetensors")


def test_dangling_symlinks_are_reported(tmp_path, wavs, model_dir):
    (wavs / "gone.wav").symlink_to(tmp_path / "deleted.wav")
    out = tmp_path / "tok"
    assert main(["tokenize", str(wavs), "-o", str(out), "--model", str(model_dir)]) == 1
    errors = (out / "errors.jsonl").read_text()
    assert "gone.wav" in errors and "dangling symbolic link" in errors
    assert len(list(out.glob("*.safetensors"))) == 2
    _, spec_errors = plan_items([str(wavs)])
    assert [Path(p).name for p, _ in spec_errors] == ["gone.wav"]


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_outputs_respect_the_umask(tmp_path, wavs, model_dir, umask):
    old = os.umask(umask)
    try:
        out = tmp_path / "tok"
        assert main(["tokenize", str(wavs), "-o", str(out), "--model", str(model_dir)]) == 0
        assert main(["detokenize", str(out), "-o", str(tmp_path / "wav"), "--model", str(model_dir)]) == 0
        written = files_under(out) | files_under(tmp_path / "wav")
        saved = make_model().save_pretrained(tmp_path / "ckpt")
        written |= files_under(saved)
    finally:
        os.umask(old)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in written}
    assert len(modes) >= 6 and set(modes.values()) == {0o666 & ~umask}, modes


def test_device_without_a_gpu_is_one_line(tmp_path, wavs, model_dir, capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    status = main(["tokenize", str(wavs), "-o", str(tmp_path / "t"), "--model", str(model_dir), "--device", "cuda"])
    assert status == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no CUDA GPU" in err and "Traceback" not in err
    assert main(["tokenize", str(wavs), "-o", str(tmp_path / "t"), "--model", str(model_dir), "--device", "gpu0"]) == 2
    assert "not a torch device name" in capsys.readouterr().err


def test_detokenize_without_model_goes_on_past_an_unregistered_one(tmp_path, wavs, model_dir, monkeypatch):
    model = make_model()
    tok = tmp_path / "tok"
    assert main(["tokenize", str(wavs), "-o", str(tok), "--model", str(model_dir)]) == 0
    stray = Tokens.load(tok / "utt00.safetensors")
    dataclasses.replace(stray, model_id="nobody-knows@0123456789ab").save(tok / "aaa.safetensors")
    real_resolve = batch.resolve
    monkeypatch.setattr(
        batch,
        "resolve",  # register the tiny model under its name, for this test only
        lambda source, **kw: model_dir if source == model.cfg.name else real_resolve(source, **kw),
    )
    out = tmp_path / "wav"
    assert main(["detokenize", str(tok), "-o", str(out)]) == 1
    assert sorted(p.name for p in out.glob("*.wav")) == ["utt00.wav", "utt01.wav"]
    errors = (out / "errors.jsonl").read_text()
    assert "aaa.safetensors" in errors and "nobody-knows" in errors and "pass --model" in errors


def test_quiet_prints_nothing_on_success(tmp_path, wavs, model_dir, capsys):
    assert main(["tokenize", str(wavs), "-o", str(tmp_path / "t"), "--model", str(model_dir), "--quiet"]) == 0
    assert capsys.readouterr().err == ""
    assert main(["tokenize", str(wavs), "-o", str(tmp_path / "u"), "--model", str(model_dir)]) == 0
    assert "2 written" in capsys.readouterr().err
