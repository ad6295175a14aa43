"""`codec prep` on awkward inputs: long files (windowed path), datasets rows that fail, re-runs, --quiet."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import soundfile as sf

from codec.cli import main
from codec.models.codec import Codec
from codec.prep import tokenize_corpus
from codec.runtime.longform import LONGFORM_THRESHOLD_SECONDS
from tests.conftest import make_model, speechlike


@pytest.fixture()
def model_dir(tmp_path):
    return make_model().save_pretrained(tmp_path / "model")


def test_long_files_take_the_windowed_path(tmp_path, model_dir, monkeypatch):
    """A file past the long-form threshold is never decoded whole; its codes equal `tokenize_long`."""
    from codec.prep import shards

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    seconds = int(LONGFORM_THRESHOLD_SECONDS) + 3
    sf.write(corpus / "long.wav", np.tile(speechlike(1.0).numpy(), seconds), 16000)
    sf.write(corpus / "short.wav", speechlike(0.4, seed=3).numpy(), 16000)
    real_load = shards.load_audio

    def load_audio(path):
        assert Path(path).name != "long.wav", "the long file must not be decoded whole"
        return real_load(path)

    monkeypatch.setattr(shards, "load_audio", load_audio)
    report = tokenize_corpus([str(corpus)], tmp_path / "out", str(model_dir), num_workers=0, batch_size=4)
    assert report.errors == [] and report.rows == 2
    table = pq.read_table(tmp_path / "out" / "shard-00000.parquet").to_pylist()
    row = next(r for r in table if r["id"] == "long")
    expected = Codec.from_pretrained(model_dir).tokenize_long(corpus / "long.wav")
    assert row["num_samples"] == seconds * 16000 and row["n_frames"] == expected.num_frames
    assert np.array_equal(np.array(row["codes"]), expected.codes[0].numpy())
    assert row["duration"] == pytest.approx(seconds)


class _Row(dict):
    def __getitem__(self, key):
        raise ImportError("To support decoding audio data, please install 'torchcodec'.")


class _DatasetWithoutTorchcodec:
    """Shaped like a `datasets.Dataset` whose audio column cannot be decoded (torchcodec missing)."""

    column_names = ("audio", "id")

    def __len__(self) -> int:
        return 2

    def __getitem__(self, key):
        return ["utt-a", "utt-b"] if key == "id" else _Row()


def test_datasets_rows_that_fail_name_the_item(tmp_path, model_dir):
    report = tokenize_corpus(_DatasetWithoutTorchcodec(), tmp_path / "out", str(model_dir), num_workers=0)
    assert sorted(path for path, _ in report.errors) == ["item utt-a", "item utt-b"]
    assert all("torchcodec" in why for _, why in report.errors)
    errors = [json.loads(line) for line in (tmp_path / "out" / "errors.jsonl").read_text().splitlines()]
    assert {e["input"] for e in errors} == {"item utt-a", "item utt-b"}


def test_rerun_with_another_codebook_count_says_so(tmp_path, model_dir, capsys):
    corpus = tmp_path / "c"
    corpus.mkdir()
    sf.write(corpus / "a.wav", speechlike(0.3).numpy(), 16000)
    out = tmp_path / "out"
    assert (
        main(
            [
                "prep",
                str(corpus),
                "-o",
                str(out),
                "--model",
                str(model_dir),
                "--num-codebooks",
                "4",
                "--num-workers",
                "0",
                "--quiet",
            ]
        )
        == 0
    )
    assert capsys.readouterr().err == ""
    assert (
        main(
            [
                "prep",
                str(corpus),
                "-o",
                str(out),
                "--model",
                str(model_dir),
                "--num-codebooks",
                "2",
                "--num-workers",
                "0",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "different codebook count (4 there, 2 now)" in err and "different model" not in err


def test_repeated_ids_are_input_errors_and_the_first_is_kept(tmp_path, model_dir):
    """Two manifest rows with one id: the first (by path) is tokenized, the other recorded, the run goes on."""
    for name in ("a.wav", "b.wav"):
        sf.write(tmp_path / name, speechlike(0.3).numpy(), 16000)
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps({"path": n, "id": "same"}) + "\n" for n in ("b.wav", "a.wav")))
    report = tokenize_corpus([str(manifest)], tmp_path / "out", str(model_dir), num_workers=0, quiet=True)
    assert report.rows == 1
    assert [(Path(p).name, why) for p, why in report.errors] == [
        ("b.wav", f"duplicate id 'same' (also {tmp_path / 'a.wav'})")
    ]
    assert pq.read_table(tmp_path / "out" / "shard-00000.parquet").column("path").to_pylist() == [
        str(tmp_path / "a.wav")
    ]
    errors = [json.loads(line) for line in (tmp_path / "out" / "errors.jsonl").read_text().splitlines()]
    assert [Path(e["input"]).name for e in errors] == ["b.wav"] and "duplicate id" in errors[0]["error"]
    plan = json.loads((tmp_path / "out" / "plan.json").read_text())
    assert plan["input_errors"][0][0] == str(tmp_path / "b.wav")


def test_every_job_reads_one_utterance_record(tmp_path):
    """tokenize/prep/eval inputs and training manifests give the same record, with the manifest's fields."""
    from codec.data.manifest import Utterance, read_utterances
    from codec.jobs.inputs import collect_inputs
    from codec.prep import plan_items

    sf.write(tmp_path / "a.wav", speechlike(0.3).numpy(), 16000)
    row = {"path": "a.wav", "id": "spk/a", "text": "hi", "speaker": "spk", "alignment": [[0.0, 0.1, "h"]]}
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps(row) + "\n")
    expected = Utterance(tmp_path / "a.wav", "spk/a", None, "hi", "spk", ((0.0, 0.1, "h"),))
    assert collect_inputs([str(manifest)]).items == [expected]
    assert plan_items([str(manifest)])[0] == [expected]
    assert read_utterances(manifest) == [expected]
    assert expected.relative == Path("spk/a.wav")
