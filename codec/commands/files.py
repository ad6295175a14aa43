"""What `codec tokenize` and `codec detokenize` share: their job options and the file-to-file run."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

Work = Callable[..., None]


def add_job_options(cmd: argparse.ArgumentParser) -> None:
    """Batch size, device, backend, overwrite policy and quiet flags of a file-to-file command."""
    cmd.add_argument("--batch-size", type=int, default=8, help="files per model call (default 8)")
    cmd.add_argument("--device", default="cpu", help="torch device, e.g. cpu, cuda, cuda:1 (default cpu)")
    cmd.add_argument(
        "--backend",
        default="auto",
        choices=["auto", "torch", "onnx", "onnx-int8"],
        help="auto (default): onnxruntime where installed and on the CPU, else torch; "
        "onnx-int8 is faster and lossy (docs/benchmarks.md)",
    )
    cmd.add_argument("--force", action="store_true", help="overwrite existing outputs")
    cmd.add_argument("--skip-existing", action="store_true", help="leave existing outputs and do the rest")
    cmd.add_argument("--quiet", action="store_true", help="no progress bar or summary line (errors are still printed)")


def run_file_job(args: argparse.Namespace, suffix: str, extensions: tuple[str, ...], work: Work) -> int:
    """Collect inputs, plan outputs, run `work(model, planned, report)` per model, write errors.jsonl."""
    from codec.jobs.batch import JobReport, group_by_named_model, plan_outputs, write_errors
    from codec.jobs.inputs import collect_inputs
    from codec.onnx.select import load_backend  # deferred with the others: `codec --help` stays torch-free

    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {args.batch_size}")
    collected = collect_inputs(args.inputs, extensions)
    report = JobReport()
    for spec, reason in collected.errors:
        report.failed.append((spec, reason))
        print(f"error: {spec}: {reason}", file=sys.stderr)
    planned = plan_outputs(collected.items, args.out_dir, suffix, args.force, args.skip_existing, report)
    groups = [(args.model, planned)] if args.model else group_by_named_model(planned, report)
    for source, group in groups:
        work(load_backend(source, device=args.device, backend=args.backend), group, report)
    errors = write_errors(args.out_dir, report)
    if not args.quiet:
        print(
            f"{len(report.written)} written, {len(report.failed)} failed"
            + (f" (see {errors})" if report.failed else "")
            + f", {report.audio_seconds / 3600:.3f} h of audio",
            file=sys.stderr,
        )
    return 1 if report.failed else 0
