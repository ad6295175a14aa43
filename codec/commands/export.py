"""`codec export CHECKPOINT OUT_DIR`: a release directory from a training checkpoint."""

from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    """Register `export`."""
    cmd = sub.add_parser("export", help="make a release directory from a training checkpoint",
                         description="Copy a checkpoint's generator (weight norm folded), discriminator "
                                     "and heads into a release directory: config.json, model.safetensors, "
                                     "discriminator.safetensors (for fine-tuning), README.md.")
    cmd.add_argument("checkpoint", help="checkpoint directory (runs/NAME/checkpoints/step_N) or a run directory")
    cmd.add_argument("out_dir", help="release directory to write")
    cmd.add_argument("--name", default=None, help="model name recorded in config.json")
    cmd.add_argument("--force", action="store_true", help="overwrite an existing release directory")
    cmd.add_argument("--half", action="store_true", help="store parameters as float16 (half the size)")


def run(args: argparse.Namespace) -> int:
    """Export and print the release files with their sha256."""
    from codec.release import export_release

    for path, digest in export_release(args.checkpoint, args.out_dir, name=args.name, force=args.force, half=args.half).items():
        print(f"{digest}  {path}")
    return 0
