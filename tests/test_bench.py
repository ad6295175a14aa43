"""`codec bench` on a tiny model: a table quickly; the measurement helpers."""

from __future__ import annotations

import argparse
import json

import pytest
import torch

from codec.commands import bench as bench_command
from codec.eval.bench import BenchSystem, codec_system, measure_peak_rss, results_table, run_bench
from tests.conftest import make_model


def _run_bench(argv: list[str]) -> int:
    """Parse `bench` arguments with the command's own parser and run it."""
    parser = argparse.ArgumentParser(prog="codec")
    bench_command.add_parser(parser.add_subparsers(dest="command"))
    return bench_command.run(parser.parse_args(["bench", *argv]))


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return make_model().save_pretrained(tmp_path_factory.mktemp("bench") / "model")


def test_bench_prints_a_table_for_a_tiny_model(model_dir, capsys):
    assert (
        _run_bench(
            [
                "--model",
                str(model_dir),
                "--seconds",
                "1",
                "--threads",
                "1",
                "--batch",
                "1",
                "--repeats",
                "2",
                "--no-progress",
            ]
        )
        == 0
    )
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("| system | params (M) | threads | batch | tokenize × RT | detokenize × RT")
    assert len(lines) == 3 and lines[2].startswith("| tiny-frame-vocoder@")
    speeds = [float(cell) for cell in lines[2].split("|")[5:7]]
    assert all(s > 0 for s in speeds)


def test_bench_json_rows(model_dir, capsys):
    assert (
        _run_bench(
            [
                "--model",
                str(model_dir),
                "--seconds",
                "0.5",
                "--batch",
                "1,2",
                "--repeats",
                "1",
                "--json",
                "--no-progress",
            ]
        )
        == 0
    )
    rows = json.loads(capsys.readouterr().out)
    assert {(r["op"], r["batch"]) for r in rows} == {(op, b) for op in ("tokenize", "detokenize") for b in (1, 2)}
    for r in rows:
        assert r["x_realtime"] == pytest.approx(r["audio_seconds"] / r["median_s"])
        assert r["audio_seconds"] == pytest.approx(0.5 * r["batch"])


def test_run_bench_round_robin_and_thread_restore():
    calls: list[str] = []

    def system(name: str) -> BenchSystem:
        return BenchSystem(name, 8000, 0, lambda a: calls.append(name) or a, lambda c: c)

    threads = torch.get_num_threads()
    results = run_bench([system("a"), system("b")], seconds=0.1, threads=[1], batches=[1], repeats=2, progress=False)
    assert torch.get_num_threads() == threads
    assert calls == ["a", "b", "a", "b", "b", "a"]  # warm-up, then each repeat starts one system later
    assert len(results) == 4 and "| a |" in results_table(results)


def test_measure_peak_rss_sees_a_large_allocation():
    result, grown = measure_peak_rss(lambda: float(torch.ones(64 * 2**20 // 4).sum()))
    assert result == 64 * 2**20 // 4
    assert grown is None or grown > 32  # MiB; None only where /proc and getrusage both say nothing


def test_codec_system_roundtrip():
    system = codec_system(make_model(), "tiny")
    audio = torch.randn(2, 1, 3200) * 0.1
    out = system.detokenize(system.tokenize(audio))
    assert out.shape == audio.shape and system.params > 0


def test_bench_defaults_to_the_shipped_model(capsys):
    """`codec bench --seconds S --threads 1` without --model/--config measures speechcodec-16k-50hz."""
    from codec.cli import main

    assert main(["bench", "--seconds", "0.2", "--threads", "1", "--repeats", "1", "--json", "--no-progress"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows and all(r["system"].startswith("speechcodec-16k-50hz@") for r in rows)
