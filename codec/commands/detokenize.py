"""`codec detokenize TOKENS... -o DIR`: tokens files -> audio files of the original length."""

from __future__ import annotations

import argparse
from pathlib import Path

from codec.commands.files import add_job_options, run_file_job


def add_parser(sub) -> None:
    """Register `detokenize`."""
    cmd = sub.add_parser(
        "detokenize",
        help="tokens files -> audio files",
        description="Turn tokens files back into audio (exact original length).",
    )
    cmd.add_argument("inputs", nargs="+", metavar="TOKENS", help="tokens file, directory, glob or manifest")
    cmd.add_argument("-o", "--out-dir", required=True, type=Path, help="where audio files are written")
    cmd.add_argument(
        "--model",
        default=None,
        help="checkpoint (directory, registered name, hf:// or URL) the tokens came from "
        "(default: the registered model named in the tokens' model id)",
    )
    cmd.add_argument("--format", default="wav", choices=["wav", "flac", "ogg"], help="output audio format")
    add_job_options(cmd)


def run(args: argparse.Namespace) -> int:
    """Decode every tokens file; 1 if any failed (they are listed in errors.jsonl)."""
    from codec.jobs.batch import TOKENS_SUFFIX, detokenize_files

    return run_file_job(
        args,
        f".{args.format}",
        (TOKENS_SUFFIX,),
        lambda model, planned, report: detokenize_files(
            model, planned, report, batch_size=args.batch_size, exclusive=not args.force, quiet=args.quiet
        ),
    )
