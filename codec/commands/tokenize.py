"""`codec tokenize INPUT... -o DIR --model M`: audio files -> one tokens file each."""

from __future__ import annotations

import argparse
from pathlib import Path

from codec.commands.files import add_job_options, run_file_job

EPILOG = """\
inputs may be audio files, directories (searched recursively), quoted globs ('data/**/*.flac')
and manifests (.txt: one path a line; .jsonl/.csv: a `path` column, optional `id`).
Each input becomes OUT_DIR/<relative path>.safetensors (a directory input keeps its tree).
Failures are printed and listed in OUT_DIR/errors.jsonl; the others go on; exit status 1 if any failed.
example: codec tokenize corpus/ -o tokens/ --model ./my-codec --num-codebooks 4
"""


def add_parser(sub) -> None:
    """Register `tokenize`."""
    cmd = sub.add_parser(
        "tokenize",
        help="audio files -> tokens files",
        description="Turn audio into tokens.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cmd.add_argument("inputs", nargs="+", metavar="INPUT", help="audio file, directory, glob or manifest")
    cmd.add_argument("-o", "--out-dir", required=True, type=Path, help="where tokens files are written")
    cmd.add_argument("--model", required=True, help="checkpoint directory, registered name, hf://org/repo@rev or URL")
    cmd.add_argument("--num-codebooks", type=int, default=None, help="keep the first K codebooks (lower bitrate)")
    add_job_options(cmd)


def run(args: argparse.Namespace) -> int:
    """Tokenize every input; 1 if any failed (they are listed in errors.jsonl)."""
    from codec.io.audio import AUDIO_EXTENSIONS
    from codec.jobs.batch import TOKENS_SUFFIX, tokenize_files

    return run_file_job(
        args,
        TOKENS_SUFFIX,
        AUDIO_EXTENSIONS,
        lambda model, planned, report: tokenize_files(
            model,
            planned,
            report,
            num_codebooks=args.num_codebooks,
            batch_size=args.batch_size,
            exclusive=not args.force,
            quiet=args.quiet,
        ),
    )
