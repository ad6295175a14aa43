#!/usr/bin/env python
"""Train a tiny decoder-only transformer on `codec prep` tokens, sample continuations and decode them.

    codec prep corpus/ -o tokens/ --model speechcodec-16k-50hz --num-codebooks 4
    python examples/train_lm.py tokens/ --codec speechcodec-16k-50hz --layout delay --out runs/delay

`--layout` picks the generation strategy (flatten, delay or depth; see docs/layouts.md). Training
crops random windows of `--frames` frames (shorter items stay ragged, padding is masked by the
layout); `--heldout` of the items are kept out for a validation loss. OUT gets metrics.jsonl (step,
loss), sample_*.wav (prompt frames from a held-out item, the rest sampled), and summary.json
(first/last loss, seconds, sample lengths).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lm_models import MODELS

import codec
from codec.io.audio import save_audio
from codec.io.files import atomic_write_bytes
from codec.layouts import Vocabulary


def load_items(tokens_dir: Path) -> tuple[list[torch.Tensor], dict]:
    """Codes [K, F] of every row of the shards listed in tokens_dir/manifest.json, and the manifest."""
    manifest_path = tokens_dir / "manifest.json"
    if not manifest_path.is_file():
        raise SystemExit(f"{manifest_path}: not found; run `codec prep ... -o {tokens_dir}` first")
    manifest = json.loads(manifest_path.read_text())
    items = []
    for shard in manifest["shards"]:
        name = shard["file"] if isinstance(shard, dict) else shard
        for codes in pq.read_table(tokens_dir / name, columns=["codes"])["codes"].to_pylist():
            if codes and codes[0]:
                items.append(torch.tensor(codes, dtype=torch.int64))
    if not items:
        raise SystemExit(f"{tokens_dir}: no non-empty rows")
    return items, manifest


def batch_of(
    items: list[torch.Tensor], size: int, frames: int, g: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random windows of at most `frames` frames: codes [B, K, frames] (zero padded) and lengths [B]."""
    codes = torch.zeros((size, items[0].shape[0], frames), dtype=torch.int64)
    lengths = torch.zeros(size, dtype=torch.int64)
    for b, i in enumerate(torch.randint(len(items), (size,), generator=g).tolist()):
        item = items[i]
        start = int(torch.randint(max(item.shape[1] - frames, 0) + 1, (1,), generator=g))
        window = item[:, start : start + frames]
        codes[b, :, : window.shape[1]] = window
        lengths[b] = window.shape[1]
    return codes, lengths


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tokens", type=Path, help="output directory of `codec prep`")
    parser.add_argument("--codec", required=True, help="the codec that made the tokens (name or directory), to decode")
    parser.add_argument("--layout", choices=sorted(MODELS), default="delay")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--frames", type=int, default=50, help="training window in frames")
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--prompt-frames", type=int, default=10)
    parser.add_argument("--sample-frames", type=int, default=50, help="total frames per sample (prompt included)")
    parser.add_argument("--samples", type=int, default=2)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--log-every", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--heldout", type=float, default=0.1, help="fraction of items kept out of training for val loss"
    )
    args = parser.parse_args(argv)
    if not 0 < args.prompt_frames < args.sample_frames:
        parser.error("need 0 < --prompt-frames < --sample-frames")

    torch.manual_seed(args.seed)
    g = torch.Generator().manual_seed(args.seed)
    items, manifest = load_items(args.tokens)
    order = torch.randperm(len(items), generator=g).tolist()
    count = int(len(items) * args.heldout) if len(items) > 1 else 0
    heldout, items = [items[i] for i in order[:count]], [items[i] for i in order[count:]]
    val_batch = None
    if heldout:
        val_batch = batch_of(heldout, 4 * args.batch_size, args.frames, torch.Generator().manual_seed(1))
    vocab = Vocabulary(manifest["num_codebooks"], manifest["codebook_size"])
    max_frames = max(args.frames, args.sample_frames)
    model = MODELS[args.layout](vocab, args.dim, args.layers, args.heads, max_frames)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    warmup = max(1, args.steps // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(  # linear warm-up, then linear decay to 10%
        optimizer, lambda s: min((s + 1) / warmup, 1.0 - 0.9 * max(0, s + 1 - warmup) / max(1, args.steps - warmup))
    )
    args.out.mkdir(parents=True, exist_ok=True)
    began, losses, log = time.perf_counter(), [], []
    for step in range(1, args.steps + 1):
        loss = model.loss(*batch_of(items, args.batch_size, args.frames, g))
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
        if step % args.log_every == 0 or step == args.steps:
            mean = sum(losses[-args.log_every :]) / len(losses[-args.log_every :])
            record = {"step": step, "loss": round(mean, 4), "seconds": round(time.perf_counter() - began, 1)}
            if val_batch is not None:
                with torch.no_grad():
                    record["val_loss"] = round(model.loss(*val_batch).item(), 4)
            log.append(record)
            print(" ".join(f"{k} {v}" for k, v in record.items()), flush=True)
    train_seconds = time.perf_counter() - began
    atomic_write_bytes(args.out / "metrics.jsonl", "".join(json.dumps(r) + "\n" for r in log).encode())

    decoder = codec.load(args.codec)
    model.eval()
    samples = []
    for i in range(args.samples):
        item = (heldout or items)[i % len(heldout or items)]  # prompts from items the model never trained on
        prompt = item[None, :, : min(args.prompt_frames, item.shape[1])]
        codes = model.generate(prompt, args.sample_frames, args.temperature, g)
        assert torch.equal(codes[:, :, : prompt.shape[2]], prompt), "the prompt must survive the layout round trip"
        audio = decoder.detokenize(codes, torch.tensor([codes.shape[2]]))
        path = args.out / f"sample_{i}.wav"
        save_audio(path, audio[0], decoder.sample_rate)
        samples.append(
            {
                "path": path.name,
                "frames": codes.shape[2],
                "samples": audio.shape[-1],
                "expected_samples": codes.shape[2] * decoder.frame_size,
            }
        )
    window = max(1, len(losses) // 10)
    summary = {
        "layout": args.layout,
        "steps": args.steps,
        "num_codebooks": vocab.num_codebooks,
        "codebook_size": vocab.codebook_size,
        "items": len(items),
        "parameters": sum(p.numel() for p in model.parameters()),
        "first_loss": round(sum(losses[:window]) / window, 4),
        "last_loss": round(sum(losses[-window:]) / window, 4),
        "heldout_items": len(heldout),
        "first_val_loss": log[0].get("val_loss"),
        "last_val_loss": log[-1].get("val_loss"),
        "train_seconds": round(train_seconds, 1),
        "total_seconds": round(time.perf_counter() - began, 1),
        "samples": samples,
    }
    atomic_write_bytes(args.out / "summary.json", (json.dumps(summary, indent=1) + "\n").encode())
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
