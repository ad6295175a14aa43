"""`codec prep`: tokenize a whole corpus into resumable Parquet shards (optionally across torchrun ranks)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DESCRIPTION = """\
Tokenize a corpus into Parquet shards for language-model training.

The inputs (directories, quoted globs, .txt/.jsonl/.csv manifests with `path` and optional
`id`, `text`, `speaker`) are sorted by id and cut into fixed shards of --shard-size items:
OUT_DIR/shard-00000.parquet, shard-00001.parquet, ... with columns id, path, duration,
sample_rate, num_samples, n_frames, codes ([K][n_frames] int16), text, speaker.
When every shard is done, OUT_DIR/manifest.json (model id, checkpoint sha256, K, frame rate,
codebook size, rows, hours, shards) and OUT_DIR/errors.jsonl are written.
"""

EPILOG = """\
resuming: run the same command again; finished shards (parquet + shard-*.done.json) are
  kept, unfinished ones are rewritten from scratch. The result equals an uninterrupted run.
failures: unreadable, empty or NaN files are listed in errors.jsonl; the run goes on;
  the exit status is 1 only with --strict.
scale-out: shard i belongs to rank i % world_size. Under torchrun, RANK and WORLD_SIZE are
  read from the environment; the last rank to finish writes the manifest (or run --merge-only).
  one machine:  torchrun --standalone --nproc_per_node 4 -m codec.prep corpus/ -o tok/ --model M
  many machines (shared filesystem), on each node:
    torchrun --nnodes 2 --nproc_per_node 8 --node_rank N --rdzv_endpoint HOST:29500 \\
      -m codec.prep corpus/ -o /shared/tok/ --model M --device cuda-local
  (--device cuda-local means cuda:$LOCAL_RANK, one GPU per process)
example: codec prep corpus/ manifest.jsonl -o tokens/ --model ./my-codec --num-codebooks 4
"""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register `prep` on a subparsers object and return its parser."""
    cmd = subparsers.add_parser(
        "prep",
        help="corpus -> Parquet token shards (resumable, multi-rank)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cmd.add_argument("inputs", nargs="*", metavar="INPUT", help="directory, quoted glob or manifest (.txt/.jsonl/.csv)")
    cmd.add_argument("-o", "--out-dir", required=True, type=Path, help="directory for shards and manifest.json")
    cmd.add_argument("--model", help="checkpoint directory (or registered name); required unless --merge-only")
    cmd.add_argument("--num-codebooks", type=int, default=None, help="keep the first K codebooks (default: all)")
    cmd.add_argument(
        "--shard-size", type=int, default=1000, help="items per shard (default 1000); keep it when resuming"
    )
    cmd.add_argument("--batch-size", type=int, default=16, help="utterances per model call (default 16)")
    cmd.add_argument("--num-workers", type=int, default=2, help="audio-decoding processes (default 2; 0 = in-process)")
    cmd.add_argument("--rank", type=int, default=None, help="this process's rank (default: $RANK or 0)")
    cmd.add_argument("--world-size", type=int, default=None, help="number of ranks (default: $WORLD_SIZE or 1)")
    cmd.add_argument(
        "--device",
        default="cpu",
        help="torch device, e.g. cpu, cuda, cuda:1; 'cuda-local' = cuda:$LOCAL_RANK (default cpu)",
    )
    cmd.add_argument("--strict", action="store_true", help="exit with status 1 if any item failed")
    cmd.add_argument("--quiet", action="store_true", help="no progress bar or summary (errors are still printed)")
    cmd.add_argument(
        "--merge-only", action="store_true", help="only write manifest.json + errors.jsonl from the shards"
    )
    return cmd


def run(args: argparse.Namespace) -> int:
    """Execute `codec prep`; returns the exit status (2 for usage errors)."""
    from codec.prep import merge_manifest, tokenize_corpus

    try:
        if args.merge_only:
            print(f"wrote {merge_manifest(args.out_dir)}", file=sys.stderr)
            return 0
        if not args.inputs or not args.model:
            raise ValueError("INPUT(s) and --model are required (unless --merge-only)")
        report = tokenize_corpus(
            args.inputs,
            args.out_dir,
            args.model,
            num_codebooks=args.num_codebooks,
            shard_size=args.shard_size,
            batch_size=args.batch_size,
            num_workers=args.num_workers,
            rank=args.rank,
            world_size=args.world_size,
            device=_device(args.device),
            quiet=args.quiet,
        )
    except (FileNotFoundError, ValueError) as err:
        print(f"codec prep: error: {err}", file=sys.stderr)
        return 2
    if args.quiet:
        return 1 if args.strict and report.errors else 0
    print(
        f"rank {report.rank}/{report.world_size}: {len(report.shards_written)} shard(s) written, "
        f"{len(report.shards_skipped)} already done, {report.rows} rows, {report.audio_seconds / 3600:.3f} h, "
        f"{len(report.errors)} failed",
        file=sys.stderr,
    )
    if report.manifest:
        print(f"wrote {report.manifest}", file=sys.stderr)
    else:
        print(
            "other ranks still running: the last to finish writes manifest.json (or use --merge-only)", file=sys.stderr
        )
    return 1 if args.strict and report.errors else 0


def main(argv: list[str] | None = None) -> int:
    """`python -m codec.prep ARGS` (e.g. under torchrun): the same as `codec prep ARGS`."""
    parser = argparse.ArgumentParser(prog="codec")
    add_parser(parser.add_subparsers(dest="command", required=True))
    return run(parser.parse_args(["prep", *(sys.argv[1:] if argv is None else argv)]))


def _device(name: str) -> str:
    """`cuda-local` -> cuda:$LOCAL_RANK; any name is checked (a missing GPU is a one-line error)."""
    import os

    from codec.runtime.devices import check_device

    name = f"cuda:{os.environ.get('LOCAL_RANK', '0')}" if name == "cuda-local" else name
    check_device(name)
    return name
