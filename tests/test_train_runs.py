"""Training runs as a user meets them: a resume after a crash, plain-audio fine-tuning, TensorBoard tags."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest

from codec.train.config import load_train_config
from codec.train.loop import train
from tests.test_train import ROOT, tiny_overrides, write_corpus

pytestmark = pytest.mark.slow  # every test trains


def test_resume_after_a_crash_logs_each_step_once(tmp_path):
    """Steps logged after the last checkpoint by a killed run are not repeated by the resumed one."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    manifest = write_corpus(tmp_path / "data", count=2)
    run = tmp_path / "run"
    base = tiny_overrides(run, manifest, 3) + ["checkpoint_every=2", "eval_every=1000"]
    train(load_train_config(ROOT / "recipes" / "tiny.yaml", base))
    # A crash right after step 3 was logged but before its checkpoint: only step 2 survives.
    shutil.rmtree(run / "checkpoints" / "step_00000003")
    (run / "checkpoints" / "latest").write_text("step_00000002\n")
    with open(run / "metrics.jsonl", "a") as torn:
        torn.write('{"step": 3, "spl')  # the torn last line of a killed process
    train(load_train_config(ROOT / "recipes" / "tiny.yaml", base[:3] + ["max_steps=4"] + base[4:]))
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    train_steps = [r["step"] for r in rows if r["split"] == "train"]
    assert train_steps == [1, 2, 3, 4]
    tags = set()
    for events in (run / "tensorboard").glob("events.out.tfevents.*"):
        acc = EventAccumulator(str(events))
        acc.Reload()
        tags |= set(acc.Tags()["scalars"])
    assert any(t.startswith("eval/") for t in tags) and not any(t.startswith("eval/eval/") for t in tags), tags
    assert "train/loss/mel" in tags


def test_phones_teacher_without_alignments_trains_without_distillation(tmp_path, caplog):
    """The README/finetune commands on a manifest of plain audio: a warning, then training."""
    manifest = write_corpus(tmp_path / "data", count=2)
    rows = [json.loads(line) for line in manifest.read_text().splitlines()]
    plain = tmp_path / "data" / "plain.jsonl"
    plain.write_text("".join(json.dumps({k: v for k, v in r.items() if k != "alignment"}) + "\n" for r in rows))
    cfg = load_train_config(
        ROOT / "recipes" / "tiny.yaml", tiny_overrides(tmp_path / "run", plain, 1) + ["checkpoint_every=100"]
    )
    assert cfg.teacher.kind == "phones"
    with caplog.at_level(logging.WARNING, logger="codec.train"):
        result = train(cfg)
    assert result.step == 1 and "loss/distill" not in result.metrics
    assert "no row has an alignment; training without semantic distillation" in caplog.text
    saved = (Path(result.checkpoint) / "train_config.yaml").read_text()
    assert "kind: none" in saved


def test_finetune_recipe_runs_on_plain_audio(tmp_path):
    """`codec train recipes/finetune.yaml data.train_manifest=plain.jsonl` starts from the shipped model."""
    manifest = write_corpus(tmp_path / "data", count=2)
    rows = [json.loads(line) for line in manifest.read_text().splitlines()]
    plain = tmp_path / "data" / "plain.jsonl"
    plain.write_text("".join(json.dumps({"path": r["path"]}) + "\n" for r in rows))
    cfg = load_train_config(
        ROOT / "recipes" / "finetune.yaml",
        [
            f"out_dir={tmp_path / 'run'}",
            f"data.train_manifest={plain}",
            f"data.valid_manifest={plain}",
            "eval_every=1000",
            "max_steps=1",
            "data.batch_size=2",
            "data.segment_seconds=0.4",
            "threads=1",
            "checkpoint_every=100",
            "data.num_workers=0",
        ],
    )
    assert train(cfg).step == 1
