"""`codec prep`: Parquet shards + manifest, failures, kill-and-resume, two ranks, datasets helpers."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import soundfile as sf
import torch

from codec.commands import prep as prep_command
from codec.models.codec import Codec
from codec.prep import PrepFailed, hf_map_function, tokenize_corpus
from tests.conftest import make_model, speechlike

ROOT = Path(__file__).resolve().parents[1]
NUM_FILES = 200
SHARD_SIZE = 20


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """200 short utterances (0.1-0.4 s, some at 22.05 kHz) in 3 speaker folders, plus a corrupt and a NaN file."""
    root = tmp_path_factory.mktemp("prep") / "corpus"
    for i in range(NUM_FILES):
        folder = root / f"spk{i % 3}"
        folder.mkdir(parents=True, exist_ok=True)
        rate = 22050 if i % 10 == 0 else 16000
        sf.write(folder / f"utt{i:03d}.wav", speechlike(0.1 + 0.003 * ((i * 37) % 100), rate, seed=i).numpy(), rate)
    (root / "spk0" / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really audio")
    nan = speechlike(0.2).numpy()
    nan[100] = np.nan
    sf.write(root / "spk1" / "nan.wav", nan, 16000, subtype="FLOAT")
    return root


@pytest.fixture(scope="module")
def model_dir(corpus) -> Path:
    return make_model().save_pretrained(corpus.parent / "model")


@pytest.fixture(scope="module")
def reference(corpus, model_dir) -> Path:
    """An uninterrupted single-rank run with two decoding workers."""
    out = corpus.parent / "reference"
    report = tokenize_corpus([str(corpus)], out, str(model_dir), shard_size=SHARD_SIZE, batch_size=8, num_workers=2)
    assert report.rows == NUM_FILES and len(report.errors) == 2 and report.manifest == out / "manifest.json"
    return out


def read_rows(out: Path) -> list[dict]:
    """All rows of all shards, in shard order."""
    return pq.read_table(sorted(str(p) for p in out.glob("shard-*.parquet"))).to_pylist()


def run_cli(argv: list[str]) -> int:
    """`codec prep ARGV` through a parser built from the command module (independent of codec.cli)."""
    parser = argparse.ArgumentParser(prog="codec")
    prep_command.add_parser(parser.add_subparsers(dest="command", required=True))
    return prep_command.run(parser.parse_args(["prep", *argv]))


def prep_process(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.Popen(
        [sys.executable, "-m", "codec.prep", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def children(pid: int) -> list[int]:
    """Child process ids (Linux /proc; empty elsewhere)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"


@pytest.mark.slow
def test_shards_manifest_errors_and_codes(corpus, model_dir, reference):
    shards = sorted(p.name for p in reference.glob("shard-*.parquet"))
    assert shards == [f"shard-{i:05d}.parquet" for i in range(11)]  # 202 items / 20
    manifest = json.loads((reference / "manifest.json").read_text())
    model = Codec.from_pretrained(model_dir)
    assert manifest["model_id"] == model.model_id
    assert manifest["checkpoint_sha256"] and model.model_id.endswith(manifest["checkpoint_sha256"][:12])
    assert (manifest["num_codebooks"], manifest["num_semantic_codebooks"], manifest["codebook_size"]) == (4, 1, 64)
    assert manifest["frame_rate"] == 50.0 and manifest["sample_rate"] == 16000 and manifest["rows"] == NUM_FILES
    assert manifest["layout"]["vocab_size"] == 256 and manifest["layout"]["semantic_codebooks"] == [0]
    assert [s["file"] for s in manifest["shards"]] == shards and manifest["errors"] == 2

    errors = {Path(e["input"]).name: e for e in map(json.loads, (reference / "errors.jsonl").read_text().splitlines())}
    assert sorted(errors) == ["corrupt.wav", "nan.wav"]
    assert "NaN" in errors["nan.wav"]["error"] and errors["corrupt.wav"]["id"] == "spk0/corrupt"

    table = pq.read_table(reference / shards[0])
    assert table.schema.field("codes").type == pa.list_(pa.list_(pa.int16()))
    assert table.schema.field("sample_rate").type == pa.int32() and table.schema.field("duration").type == pa.float64()
    rows = read_rows(reference)
    ids = [r["id"] for r in rows]
    assert ids == sorted(ids) and len(set(ids)) == NUM_FILES
    assert abs(sum(r["duration"] for r in rows) / 3600 - manifest["hours"]) < 1e-9
    by_id = {r["id"]: r for r in rows}
    for name in ("spk0/utt000", "spk1/utt037", "spk2/utt104", "spk1/utt199"):
        row = by_id[name]
        tokens = model.tokenize(row["path"])
        assert np.array_equal(np.array(row["codes"]), tokens.codes[0].numpy()), name
        assert row["n_frames"] == tokens.num_frames and row["num_samples"] == int(tokens.audio_lengths[0])
        assert row["sample_rate"] == sf.info(row["path"]).samplerate and row["text"] is None


@pytest.mark.slow
def test_kill_midway_then_resume_equals_uninterrupted(tmp_path, corpus, model_dir, reference):
    out = tmp_path / "out"
    proc = prep_process(
        [
            str(corpus),
            "-o",
            str(out),
            "--model",
            str(model_dir),
            "--shard-size",
            str(SHARD_SIZE),
            "--batch-size",
            "4",
            "--num-workers",
            "1",
        ]
    )
    deadline = time.monotonic() + 60
    while not (out / "shard-00000.done.json").exists():
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, "first shard never finished"
        time.sleep(0.005)
    workers = children(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stderr.close()
    while any(Path(f"/proc/{pid}").exists() and "Z" not in state(pid) for pid in workers):
        assert time.monotonic() < deadline, f"decoding workers {workers} outlived the killed run"
        time.sleep(0.05)
    done = sorted(p.name for p in out.glob("shard-*.done.json"))
    assert len(done) < 11 and not (out / "manifest.json").exists(), "the run finished before it could be killed"
    # Leftovers a crash can leave: a temp file, and a renamed shard whose done marker was never written.
    (out / ".shard-00010.parquet.x1y2.tmp.parquet").write_bytes(b"partial")
    (out / "shard-00010.parquet").write_bytes(b"stale")

    report = tokenize_corpus([str(corpus)], out, str(model_dir), shard_size=SHARD_SIZE, batch_size=16, num_workers=0)
    assert sorted(report.shards_skipped) == [int(name[6:11]) for name in done]
    assert sorted(report.shards_skipped + report.shards_written) == list(range(11))
    assert not list(out.glob(".*")), "temp files must be gone"
    assert read_rows(out) == read_rows(reference)
    for name in ("manifest.json", "errors.jsonl"):
        assert (out / name).read_text() == (reference / name).read_text()
    again = tokenize_corpus([str(corpus)], out, str(model_dir), shard_size=SHARD_SIZE)
    assert again.shards_written == [] and len(again.shards_skipped) == 11


@pytest.mark.slow
def test_two_ranks_match_one_rank(tmp_path, corpus, model_dir, reference):
    out = tmp_path / "out"
    args = [
        str(corpus),
        "-o",
        str(out),
        "--model",
        str(model_dir),
        "--shard-size",
        str(SHARD_SIZE),
        "--num-workers",
        "0",
    ]
    proc = prep_process(args, {"RANK": "1", "WORLD_SIZE": "2"})  # the variables torchrun sets
    rank0 = tokenize_corpus(
        [str(corpus)], out, str(model_dir), shard_size=SHARD_SIZE, num_workers=0, rank=0, world_size=2
    )
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert rank0.shards_written == [0, 2, 4, 6, 8, 10]
    assert sorted(r["id"] for r in read_rows(out)) == sorted(r["id"] for r in read_rows(reference))
    assert read_rows(out) == read_rows(reference)
    assert (out / "manifest.json").read_text() == (reference / "manifest.json").read_text()
    (out / "manifest.json").unlink()
    assert run_cli(["-o", str(out), "--merge-only"]) == 0
    assert (out / "manifest.json").read_text() == (reference / "manifest.json").read_text()


def test_cli_strict_num_codebooks_and_guards(tmp_path, corpus, model_dir, capsys):
    out = tmp_path / "out"
    spk2 = str(corpus / "spk2")
    base = ["-o", str(out), "--model", str(model_dir), "--num-workers", "0", "--shard-size", "30"]
    assert run_cli([str(corpus / "spk0" / "*.wav"), *base, "--num-codebooks", "2", "--strict"]) == 1
    assert "1 failed" in capsys.readouterr().err
    rows = read_rows(out)
    assert len(rows) == 67 and all(len(r["codes"]) == 2 for r in rows)  # 67 good files in spk0, K = 2
    assert json.loads((out / "manifest.json").read_text())["layout"]["vocab_size"] == 128
    # Same directory, different settings: refused instead of mixing two runs.
    assert run_cli([str(corpus / "spk0" / "*.wav"), *base]) == 2
    assert "different codebook count" in capsys.readouterr().err
    assert run_cli([spk2, "-o", str(tmp_path / "ok"), "--model", str(model_dir), "--num-workers", "0", "--strict"]) == 0
    assert run_cli(["-o", str(tmp_path / "nothing"), "--merge-only"]) == 2
    assert run_cli([str(tmp_path / "typo"), "-o", str(tmp_path / "nothing"), "--model", str(model_dir)]) == 2
    assert "no input files found" in capsys.readouterr().err
    partial = tmp_path / "partial"
    assert (
        run_cli(
            [
                spk2,
                "-o",
                str(partial),
                "--model",
                str(model_dir),
                "--shard-size",
                "10",
                "--rank",
                "1",
                "--world-size",
                "2",
                "--num-workers",
                "0",
            ]
        )
        == 0
    )
    assert not (partial / "manifest.json").exists()
    assert run_cli(["-o", str(partial), "--merge-only"]) == 2
    assert "not finished" in capsys.readouterr().err


def test_hf_map_function_on_a_datasets_shaped_batch(tiny_model):
    waves = [
        speechlike(0.3, 22050, seed=1).numpy(),
        speechlike(0.5, seed=2).numpy(),
        np.stack([speechlike(0.2, seed=3).numpy()] * 2, axis=1),
    ]  # [T, 2] stereo
    batch = {
        "audio": [
            {"array": waves[0], "sampling_rate": 22050, "path": "a.wav"},
            {"array": waves[1], "sampling_rate": 16000, "path": None},
            {"array": waves[2], "sampling_rate": 16000},
        ]
    }
    result = hf_map_function(tiny_model, num_codebooks=3)(batch)
    assert result["n_frames"] == [15, 25, 10]
    for codes, wav, rate in zip(result["codes"], waves, (22050, 16000, 16000)):
        wav = torch.from_numpy(wav.T.copy()) if wav.ndim == 2 else torch.from_numpy(wav)
        expected = tiny_model.tokenize(wav, sample_rate=rate, num_codebooks=3).codes[0]
        assert codes.dtype == np.int16 and np.array_equal(codes, expected.numpy())


class FakeSplit:
    """The bits of a `datasets.Dataset` that tokenize_corpus uses (column access and row access)."""

    def __init__(self, rows: list[dict]) -> None:
        self.rows, self.column_names = rows, list(rows[0])

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, key):
        return [row[key] for row in self.rows] if isinstance(key, str) else self.rows[key]


def test_datasets_split_as_input(tmp_path, tiny_model):
    rows = [
        {
            "id": f"u{i}",
            "text": f"hello {i}",
            "speaker_id": i % 2,
            "audio": {"array": speechlike(0.2 + 0.1 * i, seed=i).numpy(), "sampling_rate": 16000, "path": f"u{i}.wav"},
        }
        for i in (3, 1, 2, 0)
    ]
    rows[2]["audio"]["array"] = np.zeros(0, dtype=np.float32)
    report = tokenize_corpus(FakeSplit(rows), tmp_path, tiny_model, shard_size=2, num_workers=0)
    assert report.rows == 3 and [Path(p).name for p, _ in report.errors] == ["u2.wav"]
    got = read_rows(tmp_path)
    assert [(r["id"], r["text"], r["speaker"], r["path"]) for r in got] == [
        ("u0", "hello 0", "0", "u0.wav"),
        ("u1", "hello 1", "1", "u1.wav"),
        ("u3", "hello 3", "1", "u3.wav"),
    ]
    with pytest.raises(PrepFailed, match="1 item"):  # a resumed run still knows the failures of finished shards
        tokenize_corpus(FakeSplit(rows), tmp_path, tiny_model, shard_size=2, num_workers=0, strict=True)
    assert got[1]["n_frames"] == 15
    assert json.loads((tmp_path / "manifest.json").read_text())["checkpoint_sha256"] is None
